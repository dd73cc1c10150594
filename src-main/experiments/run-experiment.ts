/**
 * Runs an experiment grid. Every cell is a normal run in the store (so it can be inspected,
 * resumed and exported like any other), against the built-in teacher served over kserve-v2 on the
 * spec's fixed loopback port. Replies are cached by teacher identity and input bytes, so cells that
 * send the same images (the N local images, the same MixUp pool) reuse them: "paid" queries are what
 * a cell actually sent, "used" what its plan labelled. Finished cells are recorded in
 * `results.json` in the output folder and skipped on the next invocation; an interrupted cell is
 * resumed from its last checkpoint.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Recipe } from '../recipe/recipe-schema.ts';
import { loadRecipeFile, resolveRecipePath } from '../recipe/load-recipe.ts';
import { startRun, resumeRun, type RunSummary } from '../jobs/run-distillation.ts';
import type { RunEvent } from '../jobs/run-events.ts';
import type { Store } from '../store/store.ts';
import { startTeacherServer } from '../teacher-server/start-teacher-server.ts';
import { readTeacherManifest } from '../teachers/onnx-local-teacher.ts';
import { getMethod } from '../methods/index.ts';
import { expandGrid, type Cell, type ExperimentSpec } from './experiment-spec.ts';
import { writeResultFiles } from './write-results.ts';
import type { CellResult } from './experiment-spec.ts';

export interface ExperimentOptions {
  spec: ExperimentSpec;
  baseDir: string;
  store: Store;
  home: string;
  outDir: string;
  /** Only cells whose id contains one of these strings (all when empty). */
  filter?: string[];
  onEvent?: (cell: Cell, e: RunEvent) => void;
  log?: (message: string) => void;
}

export async function runExperiment(o: ExperimentOptions): Promise<CellResult[]> {
  const { spec } = o;
  mkdirSync(o.outDir, { recursive: true });
  const resultsFile = path.join(o.outDir, 'results.json');
  const results = new Map<string, CellResult>();
  if (existsSync(resultsFile)) {
    for (const r of JSON.parse(readFileSync(resultsFile, 'utf8')).cells as CellResult[]) results.set(r.id, r);
  }
  const save = () => {
    const cells = [...results.values()];
    writeFileSync(resultsFile, JSON.stringify({ experiment: spec.name, cells }, null, 2));
    writeResultFiles(o.outDir, spec, cells);
  };
  const base = loadRecipeFile(resolveRecipePath(spec.baseRecipe, o.baseDir));
  const manifestPath = resolveRecipePath(spec.teacher.model, o.baseDir);
  const manifest = readTeacherManifest(manifestPath);
  const server = await startTeacherServer({
    model: manifestPath,
    port: spec.teacher.port,
    protocols: ['kserve-v2'],
    response: 'probs',
  });
  o.log?.(`teacher ${spec.teacher.modelName} served at ${server.url}`);
  try {
    const cells = expandGrid(spec).filter((c) => !o.filter?.length || o.filter.some((f) => c.id.includes(f)));
    // Cells whose plan is identical (same queries for a larger budget) would repeat the same run.
    const byPlan = new Map<string, string>();
    for (const cell of cells) {
      const plan = getMethod(cell.method.key).plan({
        kwargs: cell.method.kwargs,
        localCount: spec.data.n,
        responseKind: cell.responseKind,
        budget: cell.budget,
      });
      const planKey = `${cell.student}/${cell.method.label}/${cell.responseKind}/s${cell.seed}/${plan.total}`;
      const prev = results.get(cell.id);
      if (prev?.status === 'completed') {
        if (!prev.sameAs) byPlan.set(planKey, cell.id);
        continue;
      }
      const twin = byPlan.get(planKey);
      if (twin && results.get(twin)?.status === 'completed') {
        results.set(cell.id, { ...results.get(twin)!, id: cell.id, budget: cell.budget, sameAs: twin });
        save();
        continue;
      }
      const recipe = cellRecipe(base.recipe, spec, cell, server.url, manifest.input);
      o.log?.(`cell ${cell.id}: ${plan.total} queries planned`);
      const started = performance.now();
      let summary: RunSummary;
      try {
        const onEvent = (e: RunEvent) => o.onEvent?.(cell, e);
        const finished = prev?.runId ? o.store.getRun(prev.runId) : undefined;
        if (finished?.status === 'completed' && finished.summary) {
          // Finished outside the runner (`distill resume`, e.g. after raising its budget).
          summary = finished.summary as unknown as RunSummary;
        } else if (prev?.runId) {
          summary = await resumeRun({ store: o.store, home: o.home, runId: prev.runId, onEvent });
        } else {
          const row: CellResult = { ...rowOf(cell), status: 'running' };
          results.set(cell.id, row);
          summary = await startRun({
            store: o.store,
            home: o.home,
            recipe,
            baseDir: base.baseDir,
            project: `experiment-${spec.name}`,
            onEvent: (e) => {
              if (!row.runId && e.type === 'phase' && e.phase === 'setup') {
                row.runId = o.store.listRuns().find((r) => r.name === recipe.name)?.id;
                save();
              }
              onEvent(e);
            },
          });
        }
      } catch (err) {
        results.set(cell.id, {
          ...rowOf(cell),
          runId: results.get(cell.id)?.runId,
          status: 'failed',
          error: (err as Error).message,
        });
        save();
        o.log?.(`cell ${cell.id} failed: ${(err as Error).message}`);
        continue;
      }
      results.set(cell.id, {
        ...rowOf(cell),
        status: summary.status === 'completed' ? 'completed' : 'failed',
        runId: summary.runId,
        accuracy: summary.accuracy,
        fidelity: summary.fidelity,
        teacherAccuracy: summary.teacherAccuracy,
        ratio: summary.accuracy / summary.teacherAccuracy,
        queriesUsed: summary.method.plan.total,
        queriesPaid: summary.queries,
        seconds: (performance.now() - started) / 1000,
      });
      byPlan.set(planKey, cell.id);
      save();
      o.log?.(
        `cell ${cell.id}: accuracy ${(summary.accuracy * 100).toFixed(2)}%, fidelity ${(summary.fidelity * 100).toFixed(2)}%, ${summary.queries} paid`,
      );
    }
  } finally {
    await server.close();
  }
  save();
  return [...results.values()];
}

/**
 * The closing lines of an invocation: how many cells are done and, for each one that is not, why,
 * with how to go on.
 */
export function experimentSummary(cells: CellResult[], outDir: string): string {
  const open = cells.filter((c) => c.status !== 'completed');
  const lines = [`${cells.length - open.length} of ${cells.length} cells done; results in ${outDir}`];
  for (const c of open) {
    lines.push(`  not done: ${c.id} (${c.error ?? 'interrupted'})`);
    // Its budget went to requests that failed but may have been billed: resuming as it is would
    // pause again at once, so say how to raise it (the run's own paused message says the same).
    if (c.runId && c.error?.startsWith('query budget exhausted')) {
      lines.push(
        `    its budget ran out: raise it first with \`distill resume ${c.runId} --budget N\` (N above ${c.budget}, same --home), then run the command again`,
      );
    }
  }
  if (open.length) {
    lines.push(
      `Run the same command again to finish ${open.length === 1 ? 'it' : 'them'}: a cell whose run had started resumes ` +
        'from its last checkpoint, and replies already paid for come from the reply cache.',
    );
  }
  return `${lines.join('\n')}\n`;
}

function rowOf(cell: Cell): CellResult {
  return {
    id: cell.id,
    student: cell.student,
    method: cell.method.label,
    methodKey: cell.method.key,
    responseKind: cell.responseKind,
    budget: cell.budget,
    seed: cell.seed,
    status: 'running',
  };
}

export function cellRecipe(
  base: Recipe,
  spec: ExperimentSpec,
  cell: Cell,
  url: string,
  input: Recipe['teacher']['input'],
): Recipe {
  const r = structuredClone(base);
  r.name = `${spec.name}-${cell.id.replace(/\//g, '-')}`;
  r.seed = cell.seed;
  r.teacher = {
    ...r.teacher,
    protocol: spec.teacher.protocol,
    model: undefined,
    url,
    modelName: spec.teacher.modelName,
    input,
    responseKind: cell.responseKind,
    numClasses: 10,
  };
  r.data = { ...r.data, n: spec.data.n, testLimit: spec.data.testLimit ?? r.data.testLimit };
  r.student = { key: cell.student };
  r.method = { key: cell.method.key, kwargs: cell.method.kwargs };
  r.budget = { ...r.budget, queries: cell.budget };
  r.training = {
    ...r.training,
    epochs: spec.training.epochs,
    batchSize: spec.training.batchSize ?? r.training.batchSize,
    learningRate: spec.training.learningRate ?? r.training.learningRate,
    schedule: spec.training.schedule ?? r.training.schedule,
  };
  r.export = { ...r.export, onnx: false };
  return r;
}
