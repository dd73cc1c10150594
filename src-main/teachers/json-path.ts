/**
 * The small JSONPath subset a template teacher needs to find its scores (docs/protocols.md, "Generic
 * JSON endpoints"): `$`, `.name`, `['name']`, `[3]` and `[*]`, e.g. `$.predictions[*].probs`.
 * With a `[*]` the result is the array of matches; without, the single value found.
 */
import { TeacherConfigError } from './errors.ts';
import { TeacherResponseError } from './responses.ts';

type Step = { key: string } | { index: number } | { all: true };

export function parseJsonPath(path: string): Step[] {
  if (!path.startsWith('$')) throw new TeacherConfigError(`reply path "${path}" must start with $`);
  const steps: Step[] = [];
  const re = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\*\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const at = re.lastIndex;
    const m = re.exec(path);
    if (!m) throw new TeacherConfigError(`reply path "${path}": cannot read from "${path.slice(at)}"`);
    if (m[1] !== undefined) steps.push({ key: m[1] });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else if (m[3] !== undefined || m[4] !== undefined) steps.push({ key: (m[3] ?? m[4])! });
    else steps.push({ all: true });
  }
  return steps;
}

export function evalJsonPath(value: unknown, path: string): unknown {
  const steps = parseJsonPath(path);
  let current: unknown[] = [value];
  const spread = steps.some((s) => 'all' in s);
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of current) {
      if ('all' in s) {
        if (!Array.isArray(v)) throw new TeacherResponseError(`reply path ${path}: [*] applied to a non-array`);
        next.push(...v);
      } else if ('index' in s) {
        if (!Array.isArray(v) || s.index >= v.length)
          throw new TeacherResponseError(`reply path ${path}: no element [${s.index}]`);
        next.push(v[s.index]);
      } else {
        if (!v || typeof v !== 'object' || !(s.key in v))
          throw new TeacherResponseError(`reply path ${path}: no field "${s.key}"`);
        next.push((v as Record<string, unknown>)[s.key]);
      }
    }
    current = next;
  }
  return spread ? current : current[0];
}
