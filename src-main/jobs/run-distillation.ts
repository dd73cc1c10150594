/**
 * Runs one recipe as a resumable job: backend, teacher, data, student, method, per-epoch metrics
 * and checkpoints in the store, ONNX export. Front ends (CLI, bridge, app, tests) call
 * `startRun` / `resumeRun` and render the events.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Recipe } from '../recipe/recipe-schema.ts';
import { parseRecipe, resolveRecipePath } from '../recipe/load-recipe.ts';
import { initBackend, describeBackend, type BackendChoice, type BackendKey } from '../backends/select-backend.ts';
import { openTeacher } from '../teachers/index.ts';
import { TeacherClient, type TeacherClientOptions } from '../teachers/teacher-client.ts';
import { TeacherCircuitOpenError, TeacherRateLimitedError, TeacherTimeoutError, TeacherConnectionError } from '../teachers/errors.ts';
import { QueryBudget, TeacherBudgetExceededError } from '../teachers/query-budget.ts';
import { checkInputFits, specImageDims } from '../teachers/preprocess.ts';
import type { TeacherInputSpec } from '../teachers/teacher.ts';
import { loadDataset } from '../data/load-dataset.ts';
import { resolveSource } from '../data/resolve-source.ts';
import { sampleFewShot } from '../data/sampling.ts';
import { fingerprintImageSet } from '../data/fingerprint.ts';
import { subset, type ImageSet } from '../data/image-set.ts';
import { getStudent } from '../students/index.ts';
import { describeStudent } from '../students/describe.ts';
import { saveModel } from '../students/model-io.ts';
import { getMethod } from '../methods/index.ts';
import { exportToOnnx } from '../export/onnx-export.ts';
import { checkOnnxParity } from '../export/parity.ts';
import { predictClasses, agreement } from '../training/evaluate.ts';
import type { TrainState } from '../training/trainer.ts';
import { resolveWorkers } from '../training/parallel/specs.ts';
import { Rng } from '../util/rng.ts';
import type { Store } from '../store/store.ts';
import type { SqliteReplyCache } from '../store/sqlite-reply-cache.ts';
import type { RunSummary, EpochMetrics } from '../store/run-summary.ts';
import { eta, type RunEvent } from './run-events.ts';
import { validateRecipeReferences } from './validate-references.ts';
import { absolutizeRecipe } from './recipe-paths.ts';
import { writeCheckpoint, readCheckpoint, latestCheckpoint, pruneCheckpoints } from './checkpoints.ts';

export const ENGINE_VERSION = '0.1.0';

export type { RunSummary } from '../store/run-summary.ts';

export interface JobOptions {
  store: Store;
  /** Where run folders are written. */
  home: string;
  /** Overrides the recipe's backend. */
  backend?: BackendKey;
  /** Overrides the recipe's `training.workers` (data-parallel training threads). */
  workers?: number;
  onEvent?: (e: RunEvent) => void;
  /** Set `stop` to 'pause' or 'cancel' to end the run after the current step (e.g. on Ctrl-C). */
  signal?: { stop?: 'pause' | 'cancel' };
  /** Where checkpoints go (default: the run folder's `checkpoints/`). */
  checkpointDir?: string;
  /** Checkpoints kept besides the best one (default 2). */
  keepCheckpoints?: number;
}

/** Validates and records a new run, then executes it. Nothing is created for an invalid recipe. */
export async function startRun(
  opts: JobOptions & {
    recipe: Recipe;
    baseDir: string;
    project?: string;
    /** Called with the run's id as soon as its row exists, before any work (a front end waiting to show the run). */
    onCreated?: (runId: string) => void;
  },
): Promise<RunSummary> {
  const problems = await validateRecipeReferences(opts.recipe, opts.baseDir);
  if (problems.length) throw new Error(`recipe "${opts.recipe.name}" cannot run:\n  - ${problems.join('\n  - ')}`);
  const recipe = absolutizeRecipe(opts.recipe, opts.baseDir);
  // The plan is checked against the budget before anything is recorded or sent; the run checks it
  // again once the teacher has said what it replies.
  const preflight = getMethod(recipe.method.key).plan({
    kwargs: recipe.method.kwargs, localCount: recipe.data.n, responseKind: recipe.teacher.responseKind ?? 'logits', budget: recipe.budget.queries,
  });
  if (preflight.total > recipe.budget.queries) {
    throw new PlanOverBudgetError(`the plan needs ${preflight.total} queries but the budget is ${recipe.budget.queries}: raise budget.queries or lower data.n`);
  }
  // A bad thread count (--workers, the recipe, DISTILL_WORKERS) would only surface at training,
  // after the teacher has been paid; check it here.
  resolveWorkers(opts.workers ?? recipe.training.workers);
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
  const projectId = opts.store.projectId(opts.project ?? 'default');
  opts.store.createRun({ id: runId, projectId, name: recipe.name, recipe, engineVersion: ENGINE_VERSION });
  opts.onCreated?.(runId);
  return executeRun(opts, runId, recipe, projectId);
}

/**
 * A resumed run's budget may only go up: a lower limit could fall under what was already paid for.
 * Throws a RangeError that says so.
 */
export function checkBudgetRaise(runId: string, current: number, requested: number): void {
  if (!Number.isInteger(requested) || requested < current) {
    throw new RangeError(`the query budget of run ${runId} can only be raised: it is ${current}, got ${requested}`);
  }
}

/** Continues a paused, cancelled, failed or crashed run from its last checkpoint. */
export async function resumeRun(opts: JobOptions & { runId: string; budgetQueries?: number }): Promise<RunSummary> {
  const run = opts.store.getRun(opts.runId);
  if (run.status === 'completed') throw new Error(`run ${run.id} already completed; nothing to resume`);
  const pid = opts.store.runPid(run.id);
  if (run.status === 'running' && pid && pid !== process.pid && processAlive(pid)) {
    throw new Error(`run ${run.id} is still running in process ${pid}; pause it first (distill pause ${run.id})`);
  }
  const recipe = parseRecipe(run.recipe, `stored recipe of run ${run.id}`);
  resolveWorkers(opts.workers ?? recipe.training.workers);
  const raised = opts.budgetQueries !== undefined && opts.budgetQueries !== recipe.budget.queries;
  const previous = recipe.budget.queries;
  if (opts.budgetQueries !== undefined) {
    checkBudgetRaise(run.id, previous, opts.budgetQueries);
    recipe.budget.queries = opts.budgetQueries;
  }
  const projectId = opts.store.projectId(run.project);
  opts.store.updateRun(run.id, { control: null, error: null, ...(raised ? { recipe } : {}) });
  if (raised) opts.store.logEvent(run.id, 'log', `query budget raised from ${previous} to ${recipe.budget.queries}`);
  return executeRun(opts, run.id, recipe, projectId);
}

async function executeRun(opts: JobOptions, runId: string, recipe: Recipe, projectId: number): Promise<RunSummary> {
  const { store } = opts;
  const emit = (e: RunEvent) => {
    if (e.type === 'phase' || e.type === 'log') store.logEvent(runId, e.type, e.message);
    opts.onEvent?.(e);
  };
  const started = performance.now();
  const runDir = path.join(opts.home, 'runs', runId);
  const checkpointDir = opts.checkpointDir ? path.join(opts.checkpointDir, runId) : path.join(runDir, 'checkpoints');
  mkdirSync(runDir, { recursive: true });
  writeFileSync(path.join(runDir, 'recipe.json'), JSON.stringify(recipe, null, 2));
  store.updateRun(runId, { status: 'running', pid: process.pid });

  let lastControlCheck = 0;
  let control: 'pause' | 'cancel' | null = null;
  const shouldStop = () => {
    if (opts.signal?.stop) control = opts.signal.stop;
    const now = performance.now();
    if (!control && now - lastControlCheck > 500) {
      lastControlCheck = now;
      control = store.readControl(runId);
    }
    return control !== null;
  };

  try {
    const force = opts.backend ?? (recipe.backend === 'auto' ? undefined : recipe.backend);
    const backend = await initBackend({ force });
    store.updateRun(runId, { backend });
    emit({ type: 'phase', phase: 'setup', message: describeBackend(backend) });

    const teacher = await openTeacher(recipe.teacher.protocol, teacherSettings(recipe));
    try {
      const info = teacher.info;
      emit({ type: 'log', message: `teacher ${info.name} (${info.protocol}): ${info.numClasses} classes, replies ${info.responseKind}` });
      store.updateRun(runId, { teacherId: store.teacherId(projectId, { identity: info.id, protocol: info.protocol, name: info.name, settings: recipe.teacher }) });
      const rng = new Rng(recipe.seed);

      const trainSource = resolveSource(recipe.data.train, '/');
      const fullTrain = loadDataset(trainSource.spec);
      checkInputFits(info.input, fullTrain);
      const { set: local } = sampleFewShot(fullTrain, { n: recipe.data.n, seed: rng.fork(), balanced: recipe.data.balanced });
      const fingerprint = fingerprintImageSet(local);
      store.updateRun(runId, { datasetId: store.datasetId(projectId, { source: trainSource.label, fingerprint, count: local.count, height: local.height, width: local.width, channels: local.channels }) });
      // Black-box KD assumes the local images are unlabelled: the method never sees their ground truth.
      const localUnlabelled: ImageSet = { ...local, labels: undefined };
      let test: ImageSet | undefined;
      let testSource: string | undefined;
      if (recipe.data.test) {
        const src = resolveSource(recipe.data.test, '/');
        test = loadDataset(src.spec);
        testSource = src.label;
        checkInputFits(info.input, test);
        if (recipe.data.testLimit && test.count > recipe.data.testLimit) {
          test = subset(test, Array.from({ length: recipe.data.testLimit }, (_, i) => i));
        }
      }
      emit({ type: 'log', message: `local data: ${local.count} images from ${trainSource.label}; held-out: ${test ? `${test.count} images from ${testSource}` : 'none'}` });

      const studentSpec = getStudent(recipe.student.key);
      const dims = specImageDims(info.input);
      const model = studentSpec.build({ inputShape: [dims.height, dims.width, dims.channels], numClasses: info.numClasses, seed: rng.fork() });
      try {
        const stats = describeStudent(model);
        emit({ type: 'log', message: `student ${studentSpec.key}: ${stats.params.toLocaleString('en-US')} params, ${(stats.flops / 1e6).toFixed(2)} MFLOPs per image` });
        const t = recipe.training;
        emit({ type: 'log', message: `training: ${t.epochs} epoch${t.epochs === 1 ? '' : 's'}, batch ${t.batchSize}, Adam at ${t.learningRate}${t.schedule === 'cosine' ? ' with a cosine schedule down to 0' : ', constant'}` });

        const method = getMethod(recipe.method.key);
        const planCtx = { kwargs: recipe.method.kwargs, localCount: local.count, responseKind: info.responseKind, budget: recipe.budget.queries };
        const plan = method.plan(planCtx);
        emit({ type: 'log', message: `plan: ${plan.items.map((i) => `${i.queries} to ${i.purpose}`).join(', ')} = ${plan.total} of ${recipe.budget.queries} queries${plan.notes.length ? '. ' + plan.notes.join(' ') : ''}` });
        if (plan.total > recipe.budget.queries) {
          throw new PlanOverBudgetError(`the plan needs ${plan.total} queries but the budget is ${recipe.budget.queries}: raise budget.queries or lower data.n`);
        }

        let resume: TrainState | undefined;
        const ckpt = latestCheckpoint(store, runId);
        if (ckpt) {
          resume = await readCheckpoint(ckpt.path, model);
          emit({ type: 'log', message: `resuming from the checkpoint of epoch ${resume.epoch}` });
        }
        // Metrics past the checkpoint belong to an epoch that was lost; it will be trained again.
        store.dropMetricsAfter(runId, resume?.epoch ?? 0);
        // What earlier sessions spent: the running counter (which includes charged failures) or the
        // replies this run inserted into the cache, whichever is larger — the cache row is committed
        // before the counter, so after a kill the counter alone could fall one batch short.
        const spentBefore = Math.max(store.getRun(runId).queriesSpent, store.repliesSpent(runId, 'train'));

        // Held-out teacher replies, counted apart from the training budget, so fidelity can be measured.
        let teacherTest: Int32Array | undefined;
        let evaluationQueries = 0;
        let teacherAccuracy = NaN;
        if (test && recipe.budget.evaluationQueries) {
          emit({ type: 'phase', phase: 'evaluate-teacher', message: `asking the teacher about ${test.count} held-out images (evaluation only)` });
          const evalClient = new TeacherClient(teacher, new QueryBudget(Infinity), clientOptions(recipe, store.replyCache(runId, 'eval'), emit));
          const replies = await evalClient.label(test.images, test.count, test.height * test.width * test.channels);
          teacherTest = replies.top1;
          evaluationQueries = store.repliesSpent(runId, 'eval');
          if (test.labels) teacherAccuracy = agreement(teacherTest, test.labels);
        }

        const budget = new QueryBudget(Math.max(0, recipe.budget.queries - spentBefore), {
          pricePer1000: recipe.budget.pricePer1000,
          onSpend: () => store.updateRun(runId, { queriesSpent: spentBefore + budget.spent }),
        });
        const client = new TeacherClient(teacher, budget, clientOptions(recipe, store.replyCache(runId, 'train'), emit));
        const queriesSoFar = () => spentBefore + budget.spent;
        const epochs: EpochMetrics[] = store.metrics(runId).map((m) => ({
          epoch: m.epoch, loss: m.loss, accuracy: m.accuracy ?? NaN, fidelity: m.fidelity ?? NaN, seconds: m.seconds, samplesPerSecond: local.count / m.seconds, queries: m.queries,
        }));
        const firstEpoch = (resume?.epoch ?? 0) + 1;
        const totalEpochs = recipe.training.epochs;
        let trainStart = 0;
        let labelStart = 0;
        let lastStepEmit = 0;
        const result = await method.run({
          ...planCtx,
          model,
          local: localUnlabelled,
          client,
          training: { ...recipe.training, workers: opts.workers ?? recipe.training.workers },
          rng,
          resume,
          // Image grids of what was sent to the teacher, for the user to see what the budget bought.
          saveArtifact: (name, data) => {
            const dir = path.join(runDir, 'artifacts');
            mkdirSync(dir, { recursive: true });
            writeFileSync(path.join(dir, path.basename(name)), data);
            emit({ type: 'log', message: `saved ${path.join('artifacts', path.basename(name))}` });
          },
          log: (message) => emit({ type: 'log', message }),
          onLabelProgress: (p) => {
            if (!labelStart) {
              labelStart = performance.now();
              emit({ type: 'phase', phase: 'label', message: `labelling ${p.total} images with the teacher` });
            }
            emit({ type: 'label-progress', ...p, etaSeconds: eta((performance.now() - labelStart) / 1000, p.done / p.total) });
          },
          onStep: (s) => {
            if (!trainStart) {
              trainStart = performance.now();
              emit({ type: 'phase', phase: 'train', message: `training ${studentSpec.key}, epochs ${s.epoch}–${totalEpochs}` });
            }
            const now = performance.now();
            if (now - lastStepEmit < 250) return;
            lastStepEmit = now;
            const frac = (s.epoch - firstEpoch + s.step / s.steps) / (totalEpochs - firstEpoch + 1);
            emit({ type: 'step', epoch: s.epoch, epochs: totalEpochs, step: s.step, steps: s.steps, etaSeconds: eta((now - trainStart) / 1000, frac) });
          },
          onEpoch: async (e) => {
            let accuracy = NaN;
            let fidelity = NaN;
            if (test) {
              const pred = await predictClasses(model, test.images, test.count, test);
              if (test.labels) accuracy = agreement(pred, test.labels);
              if (teacherTest) fidelity = agreement(pred, teacherTest);
            }
            const m: EpochMetrics = { epoch: e.epoch, loss: e.loss, accuracy, fidelity, seconds: e.seconds, samplesPerSecond: e.samples / e.seconds, queries: queriesSoFar() };
            const lastGood = latestCheckpoint(store, runId)?.epoch;
            const written = await writeCheckpoint(checkpointDir, e.epoch, model, await e.snapshot(), lastGood);
            // Metrics and checkpoint land together: a resume never sees one without the other.
            store.write(() => {
              store.addCheckpoint(runId, { epoch: e.epoch, path: written.path, score: Number.isNaN(fidelity) ? -m.loss : fidelity, bytes: written.bytes });
              store.recordEpoch(runId, { epoch: m.epoch, loss: m.loss, accuracy: m.accuracy, fidelity: m.fidelity, seconds: m.seconds, queries: m.queries }, m.queries);
            });
            pruneCheckpoints(store, runId, checkpointDir, { keepLast: opts.keepCheckpoints ?? 2 });
            epochs.push(m);
            emit({ type: 'epoch', metrics: m, etaSeconds: eta((performance.now() - trainStart) / 1000, (e.epoch - firstEpoch + 1) / (totalEpochs - firstEpoch + 1)) });
          },
          shouldStop,
        });

        const stopped: 'paused' | 'cancelled' | undefined = result.stopped ? (control === 'cancel' ? 'cancelled' : 'paused') : undefined;
        const last = epochs[epochs.length - 1];
        let onnx: RunSummary['onnx'];
        if (!stopped) {
          await saveModel(model, path.join(runDir, 'student'));
          if (recipe.export.onnx) {
            emit({ type: 'phase', phase: 'export', message: 'exporting the student to ONNX and checking parity in ONNX Runtime' });
            onnx = await exportAndCheck(model, recipe, runDir, test ?? localUnlabelled, { recipe: recipe.name, method: method.key, teacher: info.id, runId });
            emit({ type: 'log', message: `ONNX parity vs tfjs: max |diff| = ${onnx.maxAbsDiff.toExponential(2)}` });
          }
        }
        const summary: RunSummary = {
          runId,
          runDir,
          status: stopped ?? 'completed',
          recipe: recipe.name,
          engineVersion: ENGINE_VERSION,
          backend,
          teacher: { id: info.id, name: info.name, protocol: info.protocol, responseKind: info.responseKind, numClasses: info.numClasses, classNames: info.classNames },
          student: { key: studentSpec.key, params: stats.params, flops: stats.flops },
          method: { key: method.key, targets: result.targets, plan },
          data: { train: trainSource.label, origin: trainSource.origin, n: local.count, fingerprint, test: testSource, testCount: test?.count ?? 0 },
          accuracy: last?.accuracy ?? NaN,
          fidelity: last?.fidelity ?? NaN,
          teacherAccuracy,
          queries: queriesSoFar(),
          budget: recipe.budget.queries,
          costEstimate: (queriesSoFar() / 1000) * recipe.budget.pricePer1000,
          openQueries: info.openQueries ?? 0,
          evaluationQueries,
          epochs,
          resumedFromEpoch: resume?.epoch ?? 0,
          seconds: (performance.now() - started) / 1000,
          studentDir: path.join(runDir, 'student'),
          onnx,
        };
        writeFileSync(path.join(runDir, 'summary.json'), JSON.stringify(summary, null, 2));
        store.updateRun(runId, { status: summary.status, summary, queriesSpent: summary.queries, control: null, pid: null });
        emit({ type: 'phase', phase: 'done', message: `run ${runId} ${summary.status}` });
        return summary;
      } finally {
        model.dispose();
      }
    } finally {
      await teacher.close();
    }
  } catch (err) {
    const resumable = isResumableTeacherFailure(err);
    // The budget ran out mid-run: failed requests the teacher may have billed count as spent, so a
    // plan that uses the whole budget can fall short. Nothing paid for is lost; a higher budget finishes it.
    const overBudget = err instanceof TeacherBudgetExceededError;
    store.updateRun(runId, { status: resumable || overBudget ? 'paused' : 'failed', error: (err as Error).message, pid: null });
    if (resumable || overBudget) {
      const how = overBudget ? `\`distill resume ${runId} --budget N\`, with N above ${recipe.budget.queries},` : `\`distill resume ${runId}\``;
      emit({ type: 'log', message: `paused: ${(err as Error).message}. Every reply already paid for is stored; ${how} continues.` });
    }
    throw err;
  }
}

/** The plan needs more queries than the budget allows; nothing was sent. */
export class PlanOverBudgetError extends Error {
  override name = 'PlanOverBudgetError';
}

async function exportAndCheck(
  model: Parameters<typeof exportToOnnx>[0],
  recipe: Recipe,
  runDir: string,
  probe: ImageSet,
  metadata: Record<string, string>,
): Promise<NonNullable<RunSummary['onnx']>> {
  const exported = await exportToOnnx(model, { opset: recipe.export.opset, inputLayout: recipe.export.inputLayout, metadata });
  const file = path.join(runDir, 'student.onnx');
  writeFileSync(file, exported.bytes);
  const n = Math.min(64, probe.count);
  const parity = await checkOnnxParity(model, exported.bytes, probe.images.subarray(0, n * probe.height * probe.width * probe.channels), n, {
    inputLayout: recipe.export.inputLayout,
  });
  if (!parity.ok) throw new Error(`exported ONNX differs from the trained student by ${parity.maxAbsDiff} (> 1e-4): ${file}`);
  return { path: file, bytes: exported.bytes.length, opset: exported.opset, inputLayout: recipe.export.inputLayout, maxAbsDiff: parity.maxAbsDiff, parityOk: parity.ok };
}

function clientOptions(recipe: Recipe, cache: SqliteReplyCache, emit: (e: RunEvent) => void): TeacherClientOptions {
  const t = recipe.teacher;
  return {
    maxBatch: t.maxBatch,
    concurrency: t.concurrency,
    retries: t.retries,
    circuitThreshold: t.circuitThreshold,
    cache,
    onRetry: (r) => emit({ type: 'log', message: `teacher: ${r.error.message}; retrying in ${Math.round(r.delayMs)} ms` }),
  };
}

/** Teacher trouble that a later resume can get past: nothing paid for is lost, so pause instead of failing. */
function isResumableTeacherFailure(err: unknown): boolean {
  return err instanceof TeacherCircuitOpenError || err instanceof TeacherRateLimitedError || err instanceof TeacherTimeoutError || err instanceof TeacherConnectionError;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function teacherSettings(recipe: Recipe): Record<string, unknown> {
  const t = recipe.teacher;
  return { ...t, model: t.model ? resolveRecipePath(t.model, '/') : undefined, input: t.input as TeacherInputSpec | undefined };
}
