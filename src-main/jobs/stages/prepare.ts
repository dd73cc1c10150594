/**
 * Stage 1 of a run: the compute backend, the teacher, the local and held-out data, the student and
 * the method's query plan. Nothing is sent to the teacher here beyond what opening it takes.
 */
import type * as tf from '@tensorflow/tfjs';
import { isDeepStrictEqual } from 'node:util';
import type { Recipe } from '../../recipe/recipe-schema.ts';
import { resolveRecipePath } from '../../recipe/load-recipe.ts';
import { initBackend, describeBackend, type BackendChoice, type BackendKey } from '../../backends/select-backend.ts';
import { openTeacher } from '../../teachers/index.ts';
import { checkInputFits, specImageDims } from '../../teachers/preprocess.ts';
import type { Teacher, TeacherInfo, TeacherInputSpec } from '../../teachers/teacher.ts';
import type { ResponseKind } from '../../teachers/responses.ts';
import { loadDataset } from '../../data/load-dataset.ts';
import { resolveSource } from '../../recipe/resolve-source.ts';
import { sampleFewShot } from '../../data/sampling.ts';
import { fingerprintImageSet } from '../../data/fingerprint.ts';
import { subset, type ImageSet } from '../../data/image-set.ts';
import { getStudent, type StudentSpec, type StudentDescription } from '../../students/index.ts';
import { describeStudent } from '../../students/describe.ts';
import { getMethod } from '../../methods/index.ts';
import type { DistillMethod, PlanContext } from '../../methods/method.ts';
import { Rng } from '../../util/rng.ts';
import type { RunEvent } from '../run-events.ts';
import { PlanOverBudgetError } from '../plan-over-budget-error.ts';
import type { PlannedQueries, RunContext } from './context.ts';

/** What prepare reads: a run's context, or just a recipe (a test that needs exactly what a run builds). */
export interface PrepareContext {
  recipe: Recipe;
  emit?: (e: RunEvent) => void;
  record?: RunContext['record'];
  preflight?: PlannedQueries;
  opts?: { backend?: BackendKey };
}

export interface LocalData {
  trainSource: ReturnType<typeof resolveSource>;
  /** The sampled local images, ground truth included: the train stage hides it from the method. */
  local: ImageSet;
  fingerprint: string;
  test?: ImageSet;
  testSource?: string;
}

export interface Prepared {
  backend: BackendChoice;
  teacher: Teacher;
  info: TeacherInfo;
  /** Seeded by the recipe; forked once for sampling and once for the student's weights, then the method's. */
  rng: Rng;
  data: LocalData;
  student: { spec: StudentSpec; model: tf.LayersModel; stats: StudentDescription };
  method: DistillMethod;
  planned: PlannedQueries;
  /** Disposes the student and closes the teacher. */
  release(): Promise<void>;
}

export async function prepare(ctx: PrepareContext): Promise<Prepared> {
  const { recipe } = ctx;
  const emit = ctx.emit ?? (() => {});
  const force = ctx.opts?.backend ?? (recipe.backend === 'auto' ? undefined : recipe.backend);
  const backend = await initBackend({ force });
  ctx.record?.backend(backend);
  emit({ type: 'phase', phase: 'setup', message: describeBackend(backend) });

  const teacher = await openTeacher(recipe.teacher.protocol, teacherSettings(recipe));
  let model: tf.LayersModel | undefined;
  try {
    const info = teacher.info;
    emit({
      type: 'log',
      message: `teacher ${info.name} (${info.protocol}): ${info.numClasses} classes, replies ${info.responseKind}`,
    });
    ctx.record?.teacher(info);
    const rng = new Rng(recipe.seed);
    const data = loadLocalData(recipe, info.input, rng, emit, ctx.record);
    const student = buildStudent(recipe, info, rng, emit);
    model = student.model;
    const method = getMethod(recipe.method.key);
    const planned = planQueries(recipe, data.local.count, info.responseKind, ctx.preflight);
    const { plan } = planned;
    emit({
      type: 'log',
      message: `plan: ${plan.items.map((i) => `${i.queries} to ${i.purpose}`).join(', ')} = ${plan.total} of ${recipe.budget.queries} queries${plan.notes.length ? '. ' + plan.notes.join(' ') : ''}`,
    });
    checkPlanFits(planned, recipe.budget.queries);
    const release = async () => {
      student.model.dispose();
      await teacher.close();
    };
    return { backend, teacher, info, rng, data, student, method, planned, release };
  } catch (err) {
    model?.dispose();
    await teacher.close();
    throw err;
  }
}

/**
 * The method's query plan for the recipe. A plan already made for the same inputs (startRun's
 * preflight, before the teacher said what it replies) is reused, so a run plans once.
 */
export function planQueries(
  recipe: Recipe,
  localCount: number,
  responseKind: ResponseKind,
  known?: PlannedQueries,
): PlannedQueries {
  const inputs: PlanContext = { kwargs: recipe.method.kwargs, localCount, responseKind, budget: recipe.budget.queries };
  if (known && isDeepStrictEqual(known.inputs, inputs)) return { inputs, plan: known.plan };
  return { inputs, plan: getMethod(recipe.method.key).plan(inputs) };
}

export function checkPlanFits(planned: PlannedQueries, budget: number): void {
  if (planned.plan.total > budget) {
    throw new PlanOverBudgetError(
      `the plan needs ${planned.plan.total} queries but the budget is ${budget}: raise budget.queries or lower data.n`,
    );
  }
}

function loadLocalData(
  recipe: Recipe,
  input: TeacherInputSpec,
  rng: Rng,
  emit: (e: RunEvent) => void,
  record?: RunContext['record'],
): LocalData {
  const { data } = recipe;
  const trainSource = resolveSource(data.train, '/');
  const fullTrain = loadDataset(trainSource.spec);
  checkInputFits(input, fullTrain);
  const { set: local } = sampleFewShot(fullTrain, { n: data.n, seed: rng.fork(), balanced: data.balanced });
  const fingerprint = fingerprintImageSet(local);
  record?.dataset(trainSource.label, fingerprint, local);
  let test: ImageSet | undefined;
  let testSource: string | undefined;
  if (data.test) {
    const src = resolveSource(data.test, '/');
    test = loadDataset(src.spec);
    testSource = src.label;
    checkInputFits(input, test);
    if (data.testLimit && test.count > data.testLimit) {
      test = subset(
        test,
        Array.from({ length: data.testLimit }, (_, i) => i),
      );
    }
  }
  emit({
    type: 'log',
    message: `local data: ${local.count} images from ${trainSource.label}; held-out: ${test ? `${test.count} images from ${testSource}` : 'none'}`,
  });
  return { trainSource, local, fingerprint, test, testSource };
}

function buildStudent(recipe: Recipe, info: TeacherInfo, rng: Rng, emit: (e: RunEvent) => void): Prepared['student'] {
  const spec = getStudent(recipe.student.key);
  const dims = specImageDims(info.input);
  const model = spec.build({
    inputShape: [dims.height, dims.width, dims.channels],
    numClasses: info.numClasses,
    seed: rng.fork(),
  });
  try {
    const stats = describeStudent(model);
    emit({
      type: 'log',
      message: `student ${spec.key}: ${stats.params.toLocaleString('en-US')} params, ${(stats.flops / 1e6).toFixed(2)} MFLOPs per image`,
    });
    const t = recipe.training;
    emit({
      type: 'log',
      message: `training: ${t.epochs} epoch${t.epochs === 1 ? '' : 's'}, batch ${t.batchSize}, Adam at ${t.learningRate}${t.schedule === 'cosine' ? ' with a cosine schedule down to 0' : ', constant'}`,
    });
    return { spec, model, stats };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function teacherSettings(recipe: Recipe): Record<string, unknown> {
  const t = recipe.teacher;
  return {
    ...t,
    model: t.model ? resolveRecipePath(t.model, '/') : undefined,
    input: t.input as TeacherInputSpec | undefined,
  };
}
