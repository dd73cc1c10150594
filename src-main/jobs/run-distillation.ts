/**
 * Runs one recipe end to end: backend, teacher, data, student, method, metrics, ONNX export.
 * Front ends (CLI, bridge, app, tests) call this and render its events.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Recipe, DataSourceSpec } from '../recipe/recipe-schema.ts';
import { resolveRecipePath } from '../recipe/load-recipe.ts';
import { initBackend, describeBackend, type BackendChoice, type BackendKey } from '../backends/select-backend.ts';
import { openTeacher } from '../teachers/index.ts';
import { TeacherClient } from '../teachers/teacher-client.ts';
import { QueryBudget } from '../teachers/query-budget.ts';
import { checkInputFits, specImageDims } from '../teachers/preprocess.ts';
import type { TeacherInputSpec } from '../teachers/teacher.ts';
import { loadDataset, resolveFashionMnistDir } from '../data/load-dataset.ts';
import { sampleFewShot } from '../data/sampling.ts';
import { fingerprintImageSet } from '../data/fingerprint.ts';
import type { ImageSet } from '../data/image-set.ts';
import { subset } from '../data/image-set.ts';
import { getStudent } from '../students/index.ts';
import { describeStudent } from '../students/describe.ts';
import { saveModel } from '../students/model-io.ts';
import { getMethod } from '../methods/index.ts';
import { exportToOnnx } from '../export/onnx-export.ts';
import { checkOnnxParity } from '../export/parity.ts';
import { predictClasses, agreement } from '../training/evaluate.ts';
import { Rng } from '../util/rng.ts';
import { eta, type EpochMetrics, type RunEvent } from './run-events.ts';
import { validateRecipeReferences } from './validate-references.ts';

export const ENGINE_VERSION = '0.1.0';

export interface RunOptions {
  recipe: Recipe;
  /** Folder of the recipe file, for relative paths. */
  baseDir: string;
  /** Where run folders are written. */
  home: string;
  /** Overrides the recipe's backend. */
  backend?: BackendKey;
  onEvent?: (e: RunEvent) => void;
  shouldStop?: () => boolean;
}

export interface RunSummary {
  runId: string;
  runDir: string;
  recipe: string;
  engineVersion: string;
  backend: BackendChoice;
  teacher: { id: string; name: string; protocol: string; responseKind: string; numClasses: number };
  student: { key: string; params: number; flops: number };
  method: { key: string; targets: string; plan: { total: number; items: { purpose: string; queries: number }[]; notes: string[] } };
  data: { train: string; origin?: string; n: number; fingerprint: string; test?: string; testCount: number };
  /** Final-epoch figures on held-out data; never the best epoch. */
  accuracy: number;
  fidelity: number;
  teacherAccuracy: number;
  /** Training queries actually sent to the teacher (budgeted). */
  queries: number;
  budget: number;
  costEstimate: number;
  /** Held-out queries made only to measure fidelity and teacher accuracy. */
  evaluationQueries: number;
  epochs: EpochMetrics[];
  stopped: boolean;
  seconds: number;
  /** The trained student as tfjs model.json + weights.bin. */
  studentDir: string;
  onnx?: { path: string; bytes: number; opset: number; inputLayout: string; maxAbsDiff: number; parityOk: boolean };
}

export async function runDistillation(opts: RunOptions): Promise<RunSummary> {
  const { recipe, baseDir } = opts;
  const emit = opts.onEvent ?? (() => {});
  const started = performance.now();
  const problems = await validateRecipeReferences(recipe, baseDir);
  if (problems.length) throw new Error(`recipe "${recipe.name}" cannot run:\n  - ${problems.join('\n  - ')}`);

  const runId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
  const runDir = path.join(opts.home, 'runs', runId);

  const force = opts.backend ?? (recipe.backend === 'auto' ? undefined : recipe.backend);
  const backend = await initBackend({ force });
  emit({ type: 'phase', phase: 'setup', message: describeBackend(backend) });

  const teacher = await openTeacher(recipe.teacher.protocol, teacherSettings(recipe, baseDir));
  try {
    const info = teacher.info;
    emit({ type: 'log', message: `teacher ${info.name} (${info.protocol}): ${info.numClasses} classes, replies ${info.responseKind}` });
    const rng = new Rng(recipe.seed);

    const trainSource = resolveSource(recipe.data.train, baseDir);
    const fullTrain = loadDataset(trainSource.spec);
    checkInputFits(info.input, fullTrain);
    const { set: local } = sampleFewShot(fullTrain, { n: recipe.data.n, seed: rng.fork(), balanced: recipe.data.balanced });
    // The engine never shows the method the ground truth of its local images: black-box KD
    // assumes they are unlabelled.
    const localUnlabelled: ImageSet = { ...local, labels: undefined };
    let test: ImageSet | undefined;
    let testSource: string | undefined;
    if (recipe.data.test) {
      const src = resolveSource(recipe.data.test, baseDir);
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
    const stats = describeStudent(model);
    emit({ type: 'log', message: `student ${studentSpec.key}: ${stats.params.toLocaleString('en-US')} params, ${(stats.flops / 1e6).toFixed(2)} MFLOPs per image` });

    const method = getMethod(recipe.method.key);
    const planCtx = { kwargs: recipe.method.kwargs, localCount: local.count, responseKind: info.responseKind, budget: recipe.budget.queries };
    const plan = method.plan(planCtx);
    emit({ type: 'log', message: `plan: ${plan.items.map((i) => `${i.queries} to ${i.purpose}`).join(', ')} = ${plan.total} of ${recipe.budget.queries} queries${plan.notes.length ? '. ' + plan.notes.join(' ') : ''}` });
    if (plan.total > recipe.budget.queries) {
      throw new Error(`the plan needs ${plan.total} queries but the budget is ${recipe.budget.queries}: raise budget.queries or lower data.n`);
    }
    mkdirSync(runDir, { recursive: true });
    writeFileSync(path.join(runDir, 'recipe.json'), JSON.stringify(recipe, null, 2));

    // Held-out teacher replies, counted apart from the training budget, so fidelity can be measured.
    let teacherTest: Int32Array | undefined;
    let evaluationQueries = 0;
    let teacherAccuracy = NaN;
    if (test && recipe.budget.evaluationQueries) {
      emit({ type: 'phase', phase: 'evaluate-teacher', message: `asking the teacher about ${test.count} held-out images (evaluation only)` });
      const evalClient = new TeacherClient(teacher, new QueryBudget(Infinity), { maxBatch: recipe.teacher.maxBatch });
      const replies = await evalClient.label(test.images, test.count, test.height * test.width * test.channels);
      teacherTest = replies.top1;
      evaluationQueries = evalClient.sent;
      if (test.labels) teacherAccuracy = agreement(teacherTest, test.labels);
    }

    const client = new TeacherClient(teacher, new QueryBudget(recipe.budget.queries), { maxBatch: recipe.teacher.maxBatch });
    const epochs: EpochMetrics[] = [];
    const trainStart = { t: 0 };
    let labelStart = 0;
    let lastStepEmit = 0;
    const totalEpochs = recipe.training.epochs;
    const result = await method.run({
      ...planCtx,
      model,
      local: localUnlabelled,
      client,
      training: recipe.training,
      rng,
      log: (message) => emit({ type: 'log', message }),
      onLabelProgress: (p) => {
        if (!labelStart) {
          labelStart = performance.now();
          emit({ type: 'phase', phase: 'label', message: `labelling ${p.total} images with the teacher` });
        }
        const el = (performance.now() - labelStart) / 1000;
        emit({ type: 'label-progress', ...p, etaSeconds: eta(el, p.done / p.total) });
      },
      onStep: (s) => {
        if (!trainStart.t) {
          trainStart.t = performance.now();
          emit({ type: 'phase', phase: 'train', message: `training ${studentSpec.key} for ${totalEpochs} epochs` });
        }
        const now = performance.now();
        if (now - lastStepEmit < 250) return;
        lastStepEmit = now;
        const frac = (s.epoch - 1 + s.step / s.steps) / totalEpochs;
        emit({ type: 'step', epoch: s.epoch, epochs: totalEpochs, step: s.step, steps: s.steps, etaSeconds: eta((now - trainStart.t) / 1000, frac) });
      },
      onEpoch: async (e) => {
        let accuracy = NaN;
        let fidelity = NaN;
        if (test) {
          const pred = predictClasses(model, test.images, test.count, test);
          if (test.labels) accuracy = agreement(pred, test.labels);
          if (teacherTest) fidelity = agreement(pred, teacherTest);
        }
        const m: EpochMetrics = { epoch: e.epoch, loss: e.loss, accuracy, fidelity, seconds: e.seconds, samplesPerSecond: e.samples / e.seconds, queries: client.sent };
        epochs.push(m);
        const el = (performance.now() - trainStart.t) / 1000;
        emit({ type: 'epoch', metrics: m, etaSeconds: eta(el, e.epoch / totalEpochs) });
      },
      shouldStop: () => opts.shouldStop?.() ?? false,
    });

    const last = epochs[epochs.length - 1];
    await saveModel(model, path.join(runDir, 'student'));
    let onnx: RunSummary['onnx'];
    if (recipe.export.onnx && !result.stopped) {
      emit({ type: 'phase', phase: 'export', message: 'exporting the student to ONNX and checking parity in ONNX Runtime' });
      const exported = exportToOnnx(model, {
        opset: recipe.export.opset,
        inputLayout: recipe.export.inputLayout,
        metadata: { recipe: recipe.name, method: method.key, teacher: info.id, runId },
      });
      const file = path.join(runDir, 'student.onnx');
      writeFileSync(file, exported.bytes);
      const probe = test ?? localUnlabelled;
      const n = Math.min(64, probe.count);
      const parity = await checkOnnxParity(model, exported.bytes, probe.images.subarray(0, n * probe.height * probe.width * probe.channels), n, {
        inputLayout: recipe.export.inputLayout,
      });
      onnx = { path: file, bytes: exported.bytes.length, opset: exported.opset, inputLayout: recipe.export.inputLayout, maxAbsDiff: parity.maxAbsDiff, parityOk: parity.ok };
      emit({ type: 'log', message: `ONNX parity vs tfjs on ${parity.samples} images: max |diff| = ${parity.maxAbsDiff.toExponential(2)}` });
      if (!parity.ok) throw new Error(`exported ONNX differs from the trained student by ${parity.maxAbsDiff} (> 1e-4): ${file}`);
    }
    model.dispose();

    const summary: RunSummary = {
      runId,
      runDir,
      recipe: recipe.name,
      engineVersion: ENGINE_VERSION,
      backend,
      teacher: { id: info.id, name: info.name, protocol: info.protocol, responseKind: info.responseKind, numClasses: info.numClasses },
      student: { key: studentSpec.key, params: stats.params, flops: stats.flops },
      method: { key: method.key, targets: result.targets, plan },
      data: { train: trainSource.label, origin: trainSource.origin, n: local.count, fingerprint: fingerprintImageSet(local), test: testSource, testCount: test?.count ?? 0 },
      accuracy: last?.accuracy ?? NaN,
      fidelity: last?.fidelity ?? NaN,
      teacherAccuracy,
      queries: client.sent,
      budget: recipe.budget.queries,
      costEstimate: (client.sent / 1000) * recipe.budget.pricePer1000,
      evaluationQueries,
      epochs,
      stopped: result.stopped,
      studentDir: path.join(runDir, 'student'),
      seconds: (performance.now() - started) / 1000,
      onnx,
    };
    writeFileSync(path.join(runDir, 'summary.json'), JSON.stringify(summary, null, 2));
    emit({ type: 'phase', phase: 'done', message: `run ${runId} finished` });
    return summary;
  } finally {
    await teacher.close();
  }
}

function teacherSettings(recipe: Recipe, baseDir: string): Record<string, unknown> {
  const t = recipe.teacher;
  return {
    ...t,
    model: t.model ? resolveRecipePath(t.model, baseDir) : undefined,
    input: t.input as TeacherInputSpec | undefined,
  };
}

/** Turns a recipe data block into a loader spec with absolute paths and a label for reports. */
export function resolveSource(src: DataSourceSpec, baseDir: string): { spec: Parameters<typeof loadDataset>[0]; label: string; origin?: string } {
  if (src.kind === 'folder') {
    const dir = resolveRecipePath(src.dir, baseDir);
    return { spec: { ...src, dir }, label: dir };
  }
  if (src.dir === 'builtin:fashion-mnist') {
    const { dir, origin } = resolveFashionMnistDir();
    return { spec: { ...src, dir }, label: `Fashion-MNIST ${src.split} (${origin === 'debian' ? 'Debian dataset-fashion-mnist' : 'shipped demo subset'})`, origin };
  }
  const spec = {
    ...src,
    dir: src.dir ? resolveRecipePath(src.dir, baseDir) : undefined,
    images: src.images ? resolveRecipePath(src.images, baseDir) : undefined,
    labels: src.labels ? resolveRecipePath(src.labels, baseDir) : undefined,
  };
  return { spec, label: spec.images ?? `${spec.dir} (${src.split})` };
}
