/**
 * Stage 4 of a run: a run that was not stopped saves its student and, when the recipe asks, the
 * ONNX export checked for parity in ONNX Runtime; every run ends with its summary, on disk and in
 * the store.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { Recipe } from '../../recipe/recipe-schema.ts';
import type { ImageSet } from '../../data/image-set.ts';
import { saveModel } from '../../students/model-io.ts';
import { exportToOnnx } from '../../export/onnx-export.ts';
import { checkOnnxParity } from '../../export/parity.ts';
import { ParityError } from '../../export/errors.ts';
import type { RunSummary } from '../../store/run-summary.ts';
import { ENGINE_VERSION, type RunContext } from './context.ts';
import type { Prepared } from './prepare.ts';
import type { HeldOut } from './label-held-out.ts';
import type { Trained } from './train.ts';

export async function finish(ctx: RunContext, p: Prepared, held: HeldOut, trained: Trained): Promise<RunSummary> {
  const { recipe, runDir, runId } = ctx;
  const stopped: 'paused' | 'cancelled' | undefined = trained.result.stopped
    ? ctx.stopRequested() === 'cancel'
      ? 'cancelled'
      : 'paused'
    : undefined;
  let onnx: RunSummary['onnx'];
  if (!stopped) {
    await saveModel(p.student.model, path.join(runDir, 'student'));
    if (recipe.export.onnx) {
      ctx.emit({
        type: 'phase',
        phase: 'export',
        message: 'exporting the student to ONNX and checking parity in ONNX Runtime',
      });
      const metadata = { recipe: recipe.name, method: p.method.key, teacher: p.info.id, runId };
      onnx = await exportAndCheck(p.student.model, recipe, runDir, p.data.test ?? p.data.local, metadata);
      ctx.emit({ type: 'log', message: `ONNX parity vs tfjs: max |diff| = ${onnx.maxAbsDiff.toExponential(2)}` });
    }
  }
  const summary = summarize(ctx, p, held, trained, stopped ?? 'completed', onnx);
  writeFileSync(path.join(runDir, 'summary.json'), JSON.stringify(summary, null, 2));
  ctx.store.updateRun(runId, {
    status: summary.status,
    summary,
    queriesSpent: summary.queries,
    control: null,
    pid: null,
  });
  ctx.emit({ type: 'phase', phase: 'done', message: `run ${runId} ${summary.status}` });
  return summary;
}

function summarize(
  ctx: RunContext,
  p: Prepared,
  held: HeldOut,
  trained: Trained,
  status: RunSummary['status'],
  onnx: RunSummary['onnx'],
): RunSummary {
  const { recipe } = ctx;
  const { info, data } = p;
  const last = trained.epochs[trained.epochs.length - 1];
  return {
    runId: ctx.runId,
    runDir: ctx.runDir,
    status,
    recipe: recipe.name,
    engineVersion: ENGINE_VERSION,
    backend: p.backend,
    teacher: {
      id: info.id,
      name: info.name,
      protocol: info.protocol,
      responseKind: info.responseKind,
      numClasses: info.numClasses,
      classNames: info.classNames,
    },
    student: { key: p.student.spec.key, params: p.student.stats.params, flops: p.student.stats.flops },
    method: { key: p.method.key, targets: trained.result.targets, plan: p.planned.plan },
    data: {
      train: data.trainSource.label,
      origin: data.trainSource.origin,
      n: data.local.count,
      fingerprint: data.fingerprint,
      test: data.testSource,
      testCount: data.test?.count ?? 0,
    },
    accuracy: last?.accuracy ?? NaN,
    fidelity: last?.fidelity ?? NaN,
    teacherAccuracy: held.teacherAccuracy,
    queries: trained.queries,
    budget: recipe.budget.queries,
    costEstimate: (trained.queries / 1000) * recipe.budget.pricePer1000,
    openQueries: info.openQueries ?? 0,
    evaluationQueries: held.evaluationQueries,
    epochs: trained.epochs,
    resumedFromEpoch: trained.resume?.epoch ?? 0,
    seconds: (performance.now() - ctx.started) / 1000,
    studentDir: path.join(ctx.runDir, 'student'),
    onnx,
  };
}

async function exportAndCheck(
  model: tf.LayersModel,
  recipe: Recipe,
  runDir: string,
  probe: ImageSet,
  metadata: Record<string, string>,
): Promise<NonNullable<RunSummary['onnx']>> {
  const exported = await exportToOnnx(model, {
    opset: recipe.export.opset,
    inputLayout: recipe.export.inputLayout,
    metadata,
  });
  const file = path.join(runDir, 'student.onnx');
  writeFileSync(file, exported.bytes);
  const n = Math.min(64, probe.count);
  const parity = await checkOnnxParity(
    model,
    exported.bytes,
    probe.images.subarray(0, n * probe.height * probe.width * probe.channels),
    n,
    {
      inputLayout: recipe.export.inputLayout,
    },
  );
  if (!parity.ok)
    throw new ParityError(`exported ONNX differs from the trained student by ${parity.maxAbsDiff} (> 1e-4): ${file}`);
  return {
    path: file,
    bytes: exported.bytes.length,
    opset: exported.opset,
    inputLayout: recipe.export.inputLayout,
    maxAbsDiff: parity.maxAbsDiff,
    parityOk: parity.ok,
  };
}
