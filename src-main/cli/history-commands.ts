/** `distill runs | show | compare | pause | cancel | history`: reading and steering the run history. */
import { writeFileSync } from 'node:fs';
import type { Store, RunRow } from '../store/store.ts';
import { cancelRun, pauseRun } from '../service/runs.ts';
import { pct, duration, table } from './format.ts';

export const HISTORY_COMMANDS = ['runs', 'show', 'compare', 'pause', 'cancel', 'history'];

interface Options {
  store: Store;
  json: boolean;
  format?: string;
  out?: string;
}

export function historyCommand(command: string, args: string[], o: Options): number {
  const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');
  switch (command) {
    case 'runs': {
      const runs = o.store.listRuns();
      if (o.json) return (out(JSON.stringify(runs.map(brief))), 0);
      if (!runs.length) return (out('no runs yet: try `distill demo`'), 0);
      out(
        table([
          ['run', 'status', 'name', 'student', 'method', 'accuracy', 'fidelity', 'queries', 'created'],
          ...runs.map((r) => row(brief(r))),
        ]),
      );
      return 0;
    }
    case 'show': {
      if (!args[0]) return fail('distill show needs a run id');
      const run = o.store.getRun(args[0]);
      const detail = {
        ...brief(run),
        recipe: run.recipe,
        backend: run.backend,
        error: run.error,
        metrics: o.store.metrics(run.id),
        checkpoints: o.store.checkpoints(run.id),
        exports: o.store.exports(run.id),
        events: o.store.events(run.id),
        summary: run.summary,
      };
      if (o.json) return (out(JSON.stringify(detail)), 0);
      out(`run ${run.id} — ${run.name} (${run.status}${run.error ? `: ${run.error}` : ''})`);
      out(`recipe:\n${JSON.stringify(run.recipe, null, 2)}`);
      out('\nmetrics:');
      out(
        table([
          ['epoch', 'loss', 'accuracy', 'fidelity', 'seconds', 'queries'],
          ...detail.metrics.map((m) => [
            String(m.epoch),
            m.loss.toFixed(4),
            pct(m.accuracy ?? NaN),
            pct(m.fidelity ?? NaN),
            m.seconds.toFixed(1),
            String(m.queries),
          ]),
        ]),
      );
      out('\nartefacts:');
      for (const c of detail.checkpoints)
        out(`  checkpoint epoch ${c.epoch}: ${c.path} (${(c.bytes / 1024).toFixed(0)} KiB)`);
      const onnx = (run.summary as { onnx?: { path: string } } | null)?.onnx;
      if (onnx) out(`  onnx: ${onnx.path}`);
      for (const e of detail.exports) out(`  export: ${e.path}`);
      return 0;
    }
    case 'compare': {
      if (args.length < 2) return fail('distill compare needs two or more run ids');
      const runs = args.map((id) => o.store.getRun(id));
      const rows = runs.map((r) => ({
        ...brief(r),
        epochs: o.store.metrics(r.id).length,
        seconds: (r.summary as { seconds?: number } | null)?.seconds ?? NaN,
      }));
      if (o.json) return (out(JSON.stringify(rows)), 0);
      const fields: [string, (r: (typeof rows)[number]) => string][] = [
        ['status', (r) => r.status],
        ['name', (r) => r.name],
        ['student', (r) => r.student],
        ['method', (r) => r.method],
        ['teacher replies', (r) => r.responseKind],
        ['epochs', (r) => String(r.epochs)],
        ['accuracy', (r) => pct(r.accuracy)],
        ['fidelity', (r) => pct(r.fidelity)],
        ['queries', (r) => String(r.queries)],
        ['wall time', (r) => duration(r.seconds)],
      ];
      out(table([['', ...rows.map((r) => r.id)], ...fields.map(([k, f]) => [k, ...rows.map(f)])]));
      return 0;
    }
    case 'pause':
    case 'cancel': {
      if (!args[0]) return fail(`distill ${command} needs a run id`);
      // The UI's runs:pause and runs:cancel call the same two functions.
      if (command === 'cancel') {
        const { id, outcome } = cancelRun(o.store, args[0]);
        if (outcome === 'cancelled') return (out(`cancelled run ${id}`), 0);
        out(`asked run ${id} to cancel; it stops after its current step`);
      } else out(`asked run ${pauseRun(o.store, args[0])} to pause; it stops after its current step`);
      return 0;
    }
    case 'history': {
      const format = o.format ?? 'json';
      if (format !== 'csv' && format !== 'json') return fail('--format must be csv or json');
      const runs = o.store.listRuns();
      const text =
        format === 'json'
          ? JSON.stringify(
              runs.map((r) => ({ ...brief(r), recipe: r.recipe, metrics: o.store.metrics(r.id) })),
              null,
              2,
            )
          : toCsv(
              runs.flatMap((r) => {
                const b = brief(r);
                const metrics = o.store.metrics(r.id);
                return (metrics.length ? metrics : [undefined]).map((m) => ({
                  run: b.id,
                  name: b.name,
                  status: b.status,
                  student: b.student,
                  method: b.method,
                  teacher_replies: b.responseKind,
                  epoch: m?.epoch ?? '',
                  loss: m?.loss ?? '',
                  accuracy: m?.accuracy ?? '',
                  fidelity: m?.fidelity ?? '',
                  queries: m?.queries ?? b.queries,
                  created: b.created,
                }));
              }),
            );
      if (o.out) {
        writeFileSync(o.out, text + '\n');
        process.stderr.write(`wrote ${runs.length} run(s) to ${o.out}\n`);
      } else out(text);
      return 0;
    }
  }
  return fail(`unknown command ${command}`);
}

function brief(r: RunRow) {
  const recipe = r.recipe as {
    student?: { key?: string };
    method?: { key?: string };
    teacher?: { responseKind?: string };
  };
  const s = r.summary as { accuracy?: number; fidelity?: number } | null;
  const metrics = s ?? {};
  return {
    id: r.id,
    status: r.status,
    name: r.name,
    project: r.project,
    student: recipe.student?.key ?? '?',
    method: recipe.method?.key ?? '?',
    responseKind: recipe.teacher?.responseKind ?? 'as served',
    accuracy: metrics.accuracy ?? NaN,
    fidelity: metrics.fidelity ?? NaN,
    queries: r.queriesSpent,
    created: r.createdAt,
  };
}

function row(b: ReturnType<typeof brief>): string[] {
  return [
    b.id,
    b.status,
    b.name,
    b.student,
    b.method,
    pct(b.accuracy),
    pct(b.fidelity),
    String(b.queries),
    b.created.replace('T', ' ').slice(0, 19),
  ];
}

function toCsv(rows: Record<string, unknown>[]): string {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => {
    const s = v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n');
}

function fail(message: string): number {
  process.stderr.write(message + '\n');
  return 2;
}
