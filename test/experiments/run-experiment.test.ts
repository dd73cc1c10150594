/**
 * The experiment runner against a real loopback teacher server and a real SQLite store: it writes
 * CSV, Markdown and a PNG plot, reuses a smaller budget's run where the plan is the same, and a
 * second invocation skips every finished cell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import { loadExperimentSpec, expandGrid } from '../../src-main/experiments/experiment-spec.ts';
import { cellRecipe, experimentSummary, runExperiment } from '../../src-main/experiments/run-experiment.ts';
import type { CellResult } from '../../src-main/experiments/experiment-spec.ts';
import { loadRecipeFile } from '../../src-main/recipe/load-recipe.ts';
import { seedSummary } from '../../src-main/experiments/write-results.ts';
import { Store } from '../../src-main/store/store.ts';

const SPEC = `version: 1
name: tiny
baseRecipe: ${JSON.stringify(path.join(RESOURCES_DIR, 'recipes', 'demo.yaml'))}
teacher: { model: builtin:teachers/fashion-mnist-cnn.json, port: 18497, modelName: fashion-mnist-cnn }
data: { n: 100, testLimit: 200 }
training: { epochs: 1 }
grid:
  - students: [lenet5-half]
    methods: [{ key: kd-hard }, { label: fs-bbt, key: fs-bbt, kwargs: { cvaeEpochs: 1 } }]
    budgets: [100, 150]
    responseKinds: [probabilities]
    seeds: [1]
`;

test('the shipped fashion-fewshot spec parses and covers both response kinds and two students', () => {
  const { spec } = loadExperimentSpec(path.join(RESOURCES_DIR, 'experiments', 'fashion-fewshot.yaml'));
  const cells = expandGrid(spec);
  assert.deepEqual([...new Set(cells.map((c) => c.responseKind))].sort(), ['probabilities', 'top-1']);
  assert.ok(new Set(cells.map((c) => c.student)).size >= 2);
  assert.ok(cells.some((c) => c.method.label === 'gpd-no-dt'));
});

test("a spec may set the batch size, learning rate and schedule for every cell; otherwise the base recipe's stand", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'experiment-'));
  const { recipe: base } = loadRecipeFile(path.join(RESOURCES_DIR, 'recipes', 'demo.yaml'));
  for (const [training, batch, lr, schedule] of [
    ['{ epochs: 3 }', base.training.batchSize, base.training.learningRate, base.training.schedule],
    ['{ epochs: 3, batchSize: 256, learningRate: 0.005, schedule: cosine }', 256, 0.005, 'cosine'],
  ] as const) {
    const file = path.join(dir, 'spec.yaml');
    writeFileSync(file, SPEC.replace('training: { epochs: 1 }', `training: ${training}`));
    const { spec } = loadExperimentSpec(file);
    const r = cellRecipe(base, spec, expandGrid(spec)[0], 'http://127.0.0.1:18497', undefined);
    assert.deepEqual(
      [r.training.epochs, r.training.batchSize, r.training.learningRate, r.training.schedule],
      [3, batch, lr, schedule],
    );
  }
  writeFileSync(
    path.join(dir, 'bad.yaml'),
    SPEC.replace('training: { epochs: 1 }', 'training: { epochs: 1, schedule: step }'),
  );
  assert.throws(() => loadExperimentSpec(path.join(dir, 'bad.yaml')), /training\.schedule/);
});

test('runs a grid, writes CSV, Markdown and a plot, and skips finished cells when run again', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'experiment-'));
  const file = path.join(dir, 'tiny.yaml');
  writeFileSync(file, SPEC);
  const { spec, baseDir } = loadExperimentSpec(file);
  const home = path.join(dir, 'home');
  const outDir = path.join(dir, 'out');
  const store = Store.open(home);
  try {
    // A partial run first: results.md lists what is left, one line per method with budgets and seeds.
    await runExperiment({ spec, baseDir, store, home, outDir, filter: ['kd-hard'] });
    const partial = readFileSync(path.join(outDir, 'results.md'), 'utf8');
    assert.match(partial, /2 cells of the spec's grid have no result yet/);
    assert.ok(partial.includes('- lenet5-half · fs-bbt · probabilities: 100 (seed 1); 150 (seed 1)\n'), partial);
    const cells = await runExperiment({ spec, baseDir, store, home, outDir });
    assert.equal(cells.length, 4);
    assert.doesNotMatch(readFileSync(path.join(outDir, 'results.md'), 'utf8'), /Not run yet/);
    assert.ok(
      cells.every((c) => c.status === 'completed'),
      JSON.stringify(cells.map((c) => [c.id, c.status, c.error])),
    );
    // kd-hard spends N queries at any budget: the larger budget repeats the smaller one's run.
    assert.equal(
      cells.find((c) => c.id.includes('kd-hard/probabilities/150'))?.sameAs,
      'lenet5-half/kd-hard/probabilities/100/s1',
    );
    const fs150 = cells.find((c) => c.id.includes('fs-bbt/probabilities/150'))!;
    assert.equal(fs150.queriesUsed, 150);
    // The 100 local images were already paid for by earlier cells: the reply cache is shared.
    assert.equal(fs150.queriesPaid, 50);
    assert.ok(fs150.ratio! > 0 && fs150.ratio! < 1.2);
    const csv = readFileSync(path.join(outDir, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 5);
    assert.match(readFileSync(path.join(outDir, 'results.md'), 'utf8'), /\| fs-bbt \| 150 \|/);
    const plot = path.join(outDir, 'accuracy-vs-queries-lenet5-half-probabilities.png');
    assert.ok(existsSync(plot));
    assert.ok(PNG.sync.read(readFileSync(plot)).width > 100);

    const runsBefore = store.listRuns().length;
    const again = await runExperiment({ spec, baseDir, store, home, outDir });
    assert.equal(store.listRuns().length, runsBefore);
    assert.deepEqual(
      again.map((c) => c.accuracy),
      cells.map((c) => c.accuracy),
    );

    // A cell whose run was finished outside the runner (`distill resume --budget` after its budget
    // ran out) is taken from that run's summary, not resumed again (which would refuse a completed run).
    const resultsFile = path.join(outDir, 'results.json');
    const saved = JSON.parse(readFileSync(resultsFile, 'utf8')) as { cells: CellResult[] };
    const row = saved.cells.find((c) => c.id === fs150.id)!;
    Object.assign(row, {
      status: 'failed',
      error: 'query budget exhausted: 1 more sample(s) requested, 0 of 150 left',
      accuracy: undefined,
    });
    writeFileSync(resultsFile, JSON.stringify(saved));
    const taken = await runExperiment({ spec, baseDir, store, home, outDir });
    assert.equal(store.listRuns().length, runsBefore);
    const back = taken.find((c) => c.id === fs150.id)!;
    assert.equal(back.status, 'completed', back.error);
    assert.equal(back.accuracy, fs150.accuracy);
    assert.equal(back.runId, fs150.runId);
  } finally {
    store.close();
  }
});

test('results.md summarises runs that differ only by seed: mean, sample sd, range', () => {
  const cell = (
    method: string,
    budget: number,
    seed: number,
    accuracy: number,
    extra: Partial<CellResult> = {},
  ): CellResult => ({
    id: `s/${method}/probabilities/${budget}/s${seed}`,
    student: 's',
    method,
    methodKey: method,
    responseKind: 'probabilities',
    budget,
    seed,
    status: 'completed',
    accuracy,
    ratio: accuracy / 0.9,
    teacherAccuracy: 0.9,
    ...extra,
  });
  const rows = [
    cell('fs-bbt', 20000, 7, 0.87),
    cell('fs-bbt', 20000, 8, 0.88),
    cell('fs-bbt', 20000, 9, 0.89),
    cell('kd-soft', 2000, 7, 0.85), // one seed only: no summary row
    cell('kd-soft', 5000, 8, 0.85, { sameAs: 's/kd-soft/probabilities/2000/s8' }), // a repeated row, not a run
    cell('active-mixup', 20000, 7, 0.86),
    cell('active-mixup', 20000, 8, 0.5, { status: 'failed' }),
  ];
  const lines = seedSummary(rows);
  const body = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| method'));
  assert.deepEqual(body, ['| fs-bbt | 20000 | 7, 8, 9 | 88.00% ± 1.00 | 0.978 | 87.00% – 89.00% |']);
  assert.deepEqual(seedSummary(rows.slice(3)), []);
});

test('the closing summary names every cell that is not done, with its error, and says how to finish it', () => {
  const base = { student: 's', methodKey: 'fs-bbt', method: 'fs-bbt', responseKind: 'probabilities', budget: 20000 };
  const done: CellResult = {
    ...base,
    id: 's/fs-bbt/probabilities/20000/s7',
    seed: 7,
    status: 'completed',
    accuracy: 0.87,
  };
  const paused: CellResult = {
    ...base,
    id: 's/fs-bbt/probabilities/20000/s8',
    seed: 8,
    status: 'failed',
    runId: 'r8',
    error: 'connection to the teacher failed (ECONNRESET)',
  };
  const cut: CellResult = { ...base, id: 's/fs-bbt/probabilities/20000/s9', seed: 9, status: 'running', runId: 'r9' };
  assert.equal(experimentSummary([done], '/out'), '1 of 1 cells done; results in /out\n');
  const text = experimentSummary([done, paused, cut], '/out');
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], '1 of 3 cells done; results in /out');
  assert.equal(lines[1], '  not done: s/fs-bbt/probabilities/20000/s8 (connection to the teacher failed (ECONNRESET))');
  assert.equal(lines[2], '  not done: s/fs-bbt/probabilities/20000/s9 (interrupted)');
  assert.match(lines[3], /^Run the same command again to finish them: .*resumes from its last checkpoint/);
  assert.equal(lines.length, 4);
  // A cell paused because its budget ran out would pause again on a plain resume: the summary says how to raise it.
  const broke: CellResult = {
    ...base,
    id: 's/fs-bbt/probabilities/20000/s10',
    seed: 10,
    status: 'failed',
    runId: 'r10',
    error: 'query budget exhausted: 256 more sample(s) requested, 233 of 20000 left',
  };
  const more = experimentSummary([done, broke], '/out').trimEnd().split('\n');
  assert.equal(
    more[1],
    '  not done: s/fs-bbt/probabilities/20000/s10 (query budget exhausted: 256 more sample(s) requested, 233 of 20000 left)',
  );
  assert.equal(
    more[2],
    '    its budget ran out: raise it first with `distill resume r10 --budget N` (N above 20000, same --home), then run the command again',
  );
  assert.match(more[3], /^Run the same command again to finish it:/);
});
