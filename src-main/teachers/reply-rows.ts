/**
 * One reply row per sample in the shapes hand-written APIs and TorchServe handlers use: a score
 * list, a class index, a class name, or a `{label: score}` map (docs/protocols.md, "TorchServe").
 * A map covering every class is a score vector; a smaller one is top-k.
 */
import { responsesFromScores, responsesFromTopK, responsesFromLabels } from './score-replies.ts';
import { flattenNumbers } from './tensor-data.ts';
import { TeacherResponseError, type TeacherResponses } from './responses.ts';
import type { ReplyContext } from './remote-teacher.ts';

export function readReplyRows(
  rows: unknown[],
  count: number,
  ctx: ReplyContext,
  classNames?: string[],
): TeacherResponses {
  if (rows.length !== count)
    throw new TeacherResponseError(`teacher answered ${rows.length} row(s) for ${count} sample(s)`);
  const classOf = (label: string | number): number => {
    if (typeof label === 'number') return label;
    const byName = classNames?.indexOf(label) ?? -1;
    if (byName >= 0) return byName;
    if (/^\d+$/.test(label)) return Number(label);
    throw new TeacherResponseError(`label "${label.slice(0, 40)}" is not a known class name`);
  };
  const first = rows[0];
  if (typeof first === 'number' || typeof first === 'string') {
    return responsesFromLabels(
      rows.map((r) => {
        if (typeof r !== 'number' && typeof r !== 'string')
          throw new TeacherResponseError('rows mix labels and other values');
        return classOf(r);
      }),
      ctx.numClasses ?? classNames?.length ?? 0,
    );
  }
  if (Array.isArray(first)) {
    const C = first.length;
    const values = rows.flatMap((r, i) => {
      const v = flattenNumbers(r, `row ${i}`);
      if (v.length !== C) throw new TeacherResponseError(`row ${i} has ${v.length} scores, row 0 had ${C}`);
      return v;
    });
    return responsesFromScores(values, count, C, ctx.declaredKind);
  }
  if (first && typeof first === 'object') {
    const maps = rows.map((r, i) => {
      if (!r || typeof r !== 'object' || Array.isArray(r))
        throw new TeacherResponseError(`row ${i} is not a {label: score} map`);
      return Object.entries(r as Record<string, unknown>).map(
        ([label, score]) => [classOf(label), typeof score === 'number' ? score : NaN] as const,
      );
    });
    const k = maps[0].length;
    const C = ctx.numClasses ?? classNames?.length;
    if (maps.some((m) => m.length !== k)) throw new TeacherResponseError('label maps of different sizes in one reply');
    if (C !== undefined && k === C) {
      const values = new Array<number>(count * C).fill(NaN);
      maps.forEach((m, i) =>
        m.forEach(([c, sc]) => {
          if (c < 0 || c >= C) throw new TeacherResponseError(`row ${i}: class ${c} out of range`);
          values[i * C + c] = sc;
        }),
      );
      return responsesFromScores(values, count, C, ctx.declaredKind);
    }
    return responsesFromTopK(
      maps.flatMap((m) => m.map(([c]) => c)),
      maps.flatMap((m) => m.map(([, sc]) => sc)),
      count,
      k,
      C ?? 0,
    );
  }
  throw new TeacherResponseError(`reply rows are neither scores, labels nor label maps`);
}
