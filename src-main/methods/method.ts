/**
 * What every distillation method provides. A method is one module registered by key and built
 * from a recipe's `{key, kwargs}` block; it plans its teacher queries before spending any.
 */
import type * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import type { ImageSet } from '../data/image-set.ts';
import type { TeacherClient, LabelProgress } from '../teachers/teacher-client.ts';
import type { ResponseKind } from '../teachers/responses.ts';
import type { Rng } from '../util/rng.ts';
import type { AugmentOptions } from '../training/augment.ts';

export interface QueryPlan {
  total: number;
  items: { purpose: string; queries: number }[];
  /** Plain-language notes: fallbacks for the response kind, what is free, and so on. */
  notes: string[];
}

export interface PlanContext {
  kwargs: Record<string, unknown>;
  localCount: number;
  responseKind: ResponseKind;
  budget: number;
}

export type { EpochEnd as EpochReport } from '../training/trainer.ts';
import type { EpochEnd, TrainState } from '../training/trainer.ts';
import type { LrSchedule } from '../training/schedule.ts';

export interface MethodContext extends PlanContext {
  model: tf.LayersModel;
  local: ImageSet;
  client: TeacherClient;
  training: {
    epochs: number;
    batchSize: number;
    learningRate: number;
    schedule?: LrSchedule;
    augment: AugmentOptions;
    workers?: number;
  };
  rng: Rng;
  log(message: string): void;
  onLabelProgress(p: LabelProgress): void;
  onEpoch(e: EpochEnd): Promise<void>;
  /** Set when continuing a run from its last checkpoint (the model already holds its weights). */
  resume?: TrainState;
  onStep(s: { epoch: number; step: number; steps: number }): void;
  shouldStop(): boolean;
  /**
   * Optional: stores a file (an image grid of what was sent to the teacher, its sidecar JSON)
   * in the run folder under `artifacts/`. Methods call it when present and skip it otherwise.
   */
  saveArtifact?(name: string, data: Uint8Array | string): void;
}

export interface MethodResult {
  epochsRun: number;
  samplesSeen: number;
  stopped: boolean;
  /** What the targets were made from, e.g. "probabilities at T=4". */
  targets: string;
}

export interface DistillMethod<K extends z.ZodType = z.ZodType> {
  key: string;
  title: string;
  /** The paper and formula, shown in help and in the run's report. */
  reference: string;
  formula: string;
  /** What the method does and when to pick it, in plain words: the wizard's Method step shows it. */
  help: string;
  kwargs: K;
  plan(ctx: PlanContext): QueryPlan;
  run(ctx: MethodContext): Promise<MethodResult>;
}
