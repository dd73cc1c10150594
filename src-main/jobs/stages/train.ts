/**
 * Stage 3 of a run: the method trains the student on teacher replies paid from the budget; after
 * every epoch the student is scored on the held-out images and checkpointed with its metrics.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { TeacherClient, type LabelProgress } from '../../teachers/teacher-client.ts';
import { QueryBudget } from '../../teachers/query-budget.ts';
import { predictClasses, agreement } from '../../training/evaluate.ts';
import type { EpochEnd, TrainState } from '../../training/trainer.ts';
import type { MethodResult } from '../../methods/method.ts';
import type { EpochMetrics } from '../../store/run-summary.ts';
import { eta } from '../run-events.ts';
import { writeCheckpoint, readCheckpoint, latestCheckpoint, pruneCheckpoints } from '../checkpoints.ts';
import { clientOptions, type RunContext } from './context.ts';
import type { Prepared } from './prepare.ts';
import type { HeldOut } from './label-held-out.ts';

export interface Trained {
  result: MethodResult;
  /** Every epoch of the run, earlier sessions' included. */
  epochs: EpochMetrics[];
  /** Training queries spent over all sessions of the run. */
  queries: number;
  /** The checkpoint this session started from. */
  resume?: TrainState;
}

/** Loads the run's last good checkpoint into the student, if there is one. */
export async function restoreCheckpoint(ctx: RunContext, model: tf.LayersModel): Promise<TrainState | undefined> {
  let resume: TrainState | undefined;
  const ckpt = latestCheckpoint(ctx.store, ctx.runId);
  if (ckpt) {
    resume = await readCheckpoint(ckpt.path, model);
    ctx.emit({ type: 'log', message: `resuming from the checkpoint of epoch ${resume.epoch}` });
  }
  // Metrics past the checkpoint belong to an epoch that was lost; it will be trained again.
  ctx.store.dropMetricsAfter(ctx.runId, resume?.epoch ?? 0);
  return resume;
}

export async function train(
  ctx: RunContext,
  p: Prepared,
  held: HeldOut,
  resume: TrainState | undefined,
): Promise<Trained> {
  const { store, runId, recipe } = ctx;
  // What earlier sessions spent: the running counter (which includes charged failures) or the
  // replies this run inserted into the cache, whichever is larger — the cache row is committed
  // before the counter, so after a kill the counter alone could fall one batch short.
  const spentBefore = Math.max(store.getRun(runId).queriesSpent, store.repliesSpent(runId, 'train'));
  const budget = new QueryBudget(Math.max(0, recipe.budget.queries - spentBefore), {
    pricePer1000: recipe.budget.pricePer1000,
    onSpend: () => store.updateRun(runId, { queriesSpent: spentBefore + budget.spent }),
  });
  const client = new TeacherClient(p.teacher, budget, clientOptions(ctx, 'train'));
  const queriesSoFar = () => spentBefore + budget.spent;
  const epochs: EpochMetrics[] = store.metrics(runId).map((m) => ({
    epoch: m.epoch,
    loss: m.loss,
    accuracy: m.accuracy ?? NaN,
    fidelity: m.fidelity ?? NaN,
    seconds: m.seconds,
    samplesPerSecond: p.data.local.count / m.seconds,
    queries: m.queries,
  }));
  const progress = progressEvents(ctx, p.student.spec.key, (resume?.epoch ?? 0) + 1);
  const result = await p.method.run({
    ...p.planned.inputs,
    model: p.student.model,
    // Black-box KD assumes the local images are unlabelled: the method never sees their ground truth.
    local: { ...p.data.local, labels: undefined },
    client,
    training: { ...recipe.training, workers: ctx.opts.workers ?? recipe.training.workers },
    rng: p.rng,
    resume,
    saveArtifact: (name, data) => saveArtifact(ctx, name, data),
    log: (message) => ctx.emit({ type: 'log', message }),
    onLabelProgress: progress.label,
    onStep: progress.step,
    onEpoch: async (e) => {
      const m = await scoreEpoch(p, held, e, queriesSoFar());
      await checkpointEpoch(ctx, p.student.model, e, m);
      epochs.push(m);
      ctx.emit({ type: 'epoch', metrics: m, etaSeconds: progress.etaAfterEpoch(e.epoch) });
    },
    shouldStop: ctx.shouldStop,
  });
  return { result, epochs, queries: queriesSoFar(), resume };
}

/** The student's accuracy and fidelity on the held-out images after an epoch. */
async function scoreEpoch(p: Prepared, held: HeldOut, e: EpochEnd, queries: number): Promise<EpochMetrics> {
  const { test } = p.data;
  let accuracy = NaN;
  let fidelity = NaN;
  if (test) {
    const pred = await predictClasses(p.student.model, test.images, test.count, test);
    if (test.labels) accuracy = agreement(pred, test.labels);
    if (held.teacherTest) fidelity = agreement(pred, held.teacherTest);
  }
  return {
    epoch: e.epoch,
    loss: e.loss,
    accuracy,
    fidelity,
    seconds: e.seconds,
    samplesPerSecond: e.samples / e.seconds,
    queries,
  };
}

async function checkpointEpoch(ctx: RunContext, model: tf.LayersModel, e: EpochEnd, m: EpochMetrics): Promise<void> {
  const { store, runId } = ctx;
  const lastGood = latestCheckpoint(store, runId)?.epoch;
  const written = await writeCheckpoint(ctx.checkpointDir, e.epoch, model, await e.snapshot(), lastGood);
  // Metrics and checkpoint land together: a resume never sees one without the other.
  store.write(() => {
    store.addCheckpoint(runId, {
      epoch: e.epoch,
      path: written.path,
      score: Number.isNaN(m.fidelity) ? -m.loss : m.fidelity,
      bytes: written.bytes,
    });
    store.recordEpoch(
      runId,
      {
        epoch: m.epoch,
        loss: m.loss,
        accuracy: m.accuracy,
        fidelity: m.fidelity,
        seconds: m.seconds,
        queries: m.queries,
      },
      m.queries,
    );
  });
  pruneCheckpoints(store, runId, ctx.checkpointDir, { keepLast: ctx.opts.keepCheckpoints ?? 2 });
}

/** Image grids of what was sent to the teacher, for the user to see what the budget bought. */
function saveArtifact(ctx: RunContext, name: string, data: Uint8Array | string): void {
  const dir = path.join(ctx.runDir, 'artifacts');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, path.basename(name)), data);
  ctx.emit({ type: 'log', message: `saved ${path.join('artifacts', path.basename(name))}` });
}

/** Labelling and training progress with ETAs; step events at most every 250 ms. */
function progressEvents(ctx: RunContext, studentKey: string, firstEpoch: number) {
  const totalEpochs = ctx.recipe.training.epochs;
  let trainStart = 0;
  let labelStart = 0;
  let lastStepEmit = 0;
  return {
    label: (p: LabelProgress) => {
      if (!labelStart) {
        labelStart = performance.now();
        ctx.emit({ type: 'phase', phase: 'label', message: `labelling ${p.total} images with the teacher` });
      }
      ctx.emit({
        type: 'label-progress',
        ...p,
        etaSeconds: eta((performance.now() - labelStart) / 1000, p.done / p.total),
      });
    },
    step: (s: { epoch: number; step: number; steps: number }) => {
      if (!trainStart) {
        trainStart = performance.now();
        ctx.emit({
          type: 'phase',
          phase: 'train',
          message: `training ${studentKey}, epochs ${s.epoch}–${totalEpochs}`,
        });
      }
      const now = performance.now();
      if (now - lastStepEmit < 250) return;
      lastStepEmit = now;
      const frac = (s.epoch - firstEpoch + s.step / s.steps) / (totalEpochs - firstEpoch + 1);
      ctx.emit({
        type: 'step',
        epoch: s.epoch,
        epochs: totalEpochs,
        step: s.step,
        steps: s.steps,
        etaSeconds: eta((now - trainStart) / 1000, frac),
      });
    },
    etaAfterEpoch: (epoch: number) =>
      eta((performance.now() - trainStart) / 1000, (epoch - firstEpoch + 1) / (totalEpochs - firstEpoch + 1)),
  };
}
