/**
 * The experiment's outputs: `results.csv`, `results.md` (one table per student and response kind,
 * student-to-teacher ratio beside accuracy) and `accuracy-vs-queries-<student>-<kind>.png`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expandGrid, type ExperimentSpec } from './experiment-spec.ts';
import type { CellResult } from './experiment-spec.ts';
import { renderPlot } from './plot-png.ts';

const COLUMNS: (keyof CellResult)[] = [
  'student',
  'method',
  'methodKey',
  'responseKind',
  'budget',
  'seed',
  'status',
  'accuracy',
  'fidelity',
  'teacherAccuracy',
  'ratio',
  'queriesUsed',
  'queriesPaid',
  'seconds',
  'runId',
  'sameAs',
  'error',
];

function csvValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const pct = (v?: number) => (v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(2)}%`);

/**
 * Mean and sample standard deviation over seeds of the completed runs that differ only by seed,
 * for every (method, budget) with two seeds or more; an empty list when there are none.
 */
export function seedSummary(rows: CellResult[]): string[] {
  const groups = new Map<string, CellResult[]>();
  for (const c of rows) {
    if (c.status !== 'completed' || c.accuracy === undefined || c.sameAs) continue;
    const k = `${c.method}\u0000${c.budget}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const multi = [...groups.values()].filter((cs) => new Set(cs.map((c) => c.seed)).size >= 2);
  if (!multi.length) return [];
  const lines = [
    'Across seeds (runs that differ only by seed; sd is the sample standard deviation):',
    '',
    '| method | budget | seeds | accuracy mean ± sd | ratio mean | lowest – highest |',
    '|---|---:|---|---:|---:|---:|',
  ];
  for (const cs of multi) {
    const acc = cs.map((c) => c.accuracy!);
    const mean = acc.reduce((a, b) => a + b, 0) / acc.length;
    const sd = Math.sqrt(acc.reduce((a, b) => a + (b - mean) ** 2, 0) / (acc.length - 1));
    const ratios = cs.map((c) => c.ratio).filter((r): r is number => r !== undefined);
    const ratio = ratios.length ? (ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(3) : '–';
    lines.push(
      `| ${cs[0].method} | ${cs[0].budget} | ${cs
        .map((c) => c.seed)
        .sort((a, b) => a - b)
        .join(
          ', ',
        )} | ${pct(mean)} ± ${(sd * 100).toFixed(2)} | ${ratio} | ${pct(Math.min(...acc))} – ${pct(Math.max(...acc))} |`,
    );
  }
  lines.push('');
  return lines;
}

export function writeResultFiles(outDir: string, spec: ExperimentSpec, cells: CellResult[]): void {
  writeFileSync(
    path.join(outDir, 'results.csv'),
    [COLUMNS.join(','), ...cells.map((c) => COLUMNS.map((k) => csvValue(c[k])).join(','))].join('\n') + '\n',
  );
  const done = cells.filter((c) => c.status === 'completed');
  const lines = [`# ${spec.name}`, '', spec.description ?? '', ''];
  lines.push(
    `N = ${spec.data.n} unlabelled local images, ${spec.training.epochs} epochs${spec.training.batchSize !== undefined ? `, batch ${spec.training.batchSize}` : ''}${spec.training.learningRate !== undefined ? `, learning rate ${spec.training.learningRate}` : ''}${spec.training.schedule ? `, ${spec.training.schedule} schedule` : ''}, teacher served over kserve-v2 (\`distill teacher serve\`'s server) on 127.0.0.1:${spec.teacher.port}. Accuracy and fidelity are the final epoch on held-out data (${spec.data.testLimit ?? 'all'} test images), never the best epoch. Ratio = student accuracy / teacher accuracy. "Used" = queries the method's plan labelled; "paid" = queries this cell actually sent (the rest came from the reply cache shared by cells).`,
    '',
  );
  const groups = new Map<string, CellResult[]>();
  for (const c of cells) {
    const k = `${c.student} · ${c.responseKind}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  for (const [g, rows] of groups) {
    lines.push(
      `## ${g}`,
      '',
      '| method | budget | accuracy | fidelity | ratio | used | paid | wall s | seed | note |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const c of rows) {
      const note =
        c.status === 'failed'
          ? `failed: ${c.error ?? ''}`.slice(0, 80)
          : c.status === 'running'
            ? 'not finished'
            : c.sameAs
              ? `same plan as budget ${c.sameAs.split('/')[3]}`
              : '';
      lines.push(
        `| ${c.method} | ${c.budget} | ${pct(c.accuracy)} | ${pct(c.fidelity)} | ${c.ratio?.toFixed(3) ?? '–'} | ${c.queriesUsed ?? '–'} | ${c.sameAs ? '0' : (c.queriesPaid ?? '–')} | ${c.sameAs ? '–' : (c.seconds?.toFixed(0) ?? '–')} | ${c.seed} | ${note} |`,
      );
    }
    lines.push('');
    const teacher = rows.find((r) => r.teacherAccuracy)?.teacherAccuracy;
    if (teacher) lines.push(`Teacher accuracy on the same held-out images: ${pct(teacher)}.`, '');
    lines.push(...seedSummary(rows));
    const [student, kind] = g.split(' · ');
    const file = `accuracy-vs-queries-${student}-${kind}.png`;
    const series = new Map<string, { x: number; y: number }[]>();
    for (const r of rows.filter((x) => x.status === 'completed' && x.accuracy !== undefined)) {
      // Seeds average into one point per (method, queries used).
      series.set(r.method, [...(series.get(r.method) ?? []), { x: r.queriesUsed ?? r.budget, y: r.accuracy! }]);
    }
    const merged = [...series].map(([name, pts]) => {
      const byX = new Map<number, number[]>();
      for (const p of pts) byX.set(p.x, [...(byX.get(p.x) ?? []), p.y]);
      return { name, points: [...byX].map(([x, ys]) => ({ x, y: ys.reduce((a, b) => a + b, 0) / ys.length })) };
    });
    if (merged.length && done.length) {
      writeFileSync(
        path.join(outDir, file),
        renderPlot(merged, { title: `${student} ${kind}: test accuracy vs queries`, teacher }),
      );
      lines.push(`![accuracy against queries, ${g}](${file})`, '');
    }
  }
  const present = new Set(cells.map((c) => c.id));
  const missing = expandGrid(spec).filter((c) => !present.has(c.id));
  if (missing.length) {
    lines.push(
      `## Not run yet`,
      '',
      `${missing.length} cells of the spec's grid have no result yet (run the command again to continue):`,
      '',
    );
    // One line per student, method and response kind, listing budgets with their missing seeds.
    const byGroup = new Map<string, Map<number, number[]>>();
    for (const c of missing) {
      const g = `${c.student} · ${c.method.label} · ${c.responseKind}`;
      const budgets = byGroup.get(g) ?? new Map<number, number[]>();
      budgets.set(c.budget, [...(budgets.get(c.budget) ?? []), c.seed]);
      byGroup.set(g, budgets);
    }
    for (const [g, budgets] of byGroup) {
      lines.push(`- ${g}: ${[...budgets].map(([b, seeds]) => `${b} (seed ${seeds.join(', ')})`).join('; ')}`);
    }
    lines.push('');
  }
  writeFileSync(path.join(outDir, 'results.md'), lines.join('\n'));
}
