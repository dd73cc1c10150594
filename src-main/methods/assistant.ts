/**
 * A teacher assistant (Mirzadeh et al., "Improved Knowledge Distillation via Teacher Assistant",
 * AAAI 2020), used here to stretch a query budget: a wider zoo model is trained on the transfer
 * set the teacher labelled, then labels a pool of free MixUp images that no query paid for. The
 * student trains on the teacher's rows and the assistant's together. The assistant never sees
 * anything the student could not: the same local images and the same teacher replies.
 *
 * Like fs-bbt's CVAE it is not checkpointed: a resumed run trains it again from the run's seed.
 */
import type * as tf from '@tensorflow/tfjs';
import { getStudent } from '../students/index.ts';
import { predictLogits } from '../training/evaluate.ts';
import type { HookSpec, LossSpec } from '../training/step-registry.ts';
import { trainOnContext } from './train.ts';
import { makeMixupPool } from './mixup.ts';
import type { MethodContext } from './method.ts';
import { concatBlocks } from './transfer-set.ts';
import { softTargets } from './soft-targets.ts';
import { responsesFromLogits } from '../teachers/responses.ts';
import type { Rng } from '../util/rng.ts';

export interface AssistantOptions {
  /** Zoo key of the assistant's architecture. */
  student: string;
  /** Free MixUp images the assistant labels. */
  pool: number;
}

export interface TransferSet {
  images: Float32Array;
  targets: Float32Array;
  count: number;
  dims: { height: number; width: number; channels: number };
  /** Classes per target row. */
  C: number;
  /** Temperature the targets were softened at; the assistant's rows get the same. */
  T: number;
  loss: LossSpec;
  hook?: HookSpec;
}

/**
 * Trains the assistant on `set`, then returns `opts.pool` MixUp images of the local images with the
 * assistant's softened predictions as targets; undefined when the run was asked to stop meanwhile.
 */
export async function assistantRows(
  ctx: MethodContext,
  opts: AssistantOptions,
  set: TransferSet,
  local: { images: Float32Array; count: number },
  rng: Rng,
): Promise<{ images: Float32Array; targets: Float32Array; count: number } | undefined> {
  const spec = getStudent(opts.student);
  const { dims, C } = set;
  const per = dims.height * dims.width * dims.channels;
  const model: tf.LayersModel = spec.build({
    inputShape: [dims.height, dims.width, dims.channels],
    numClasses: C,
    seed: rng.fork(),
  });
  try {
    ctx.log(
      `assistant: training ${spec.key} on the ${set.count} teacher-labelled rows (${ctx.training.epochs} epochs) before the student`,
    );
    const t0 = performance.now();
    // A model of its own, trained from scratch: it neither reports the run's progress nor resumes.
    const result = await trainOnContext(ctx, {
      model,
      images: set.images,
      targets: set.targets,
      count: set.count,
      dims,
      rng: rng,
      loss: set.loss,
      batchHook: set.hook,
      log: () => {},
      onEpoch: (e) => {
        if (e.epoch % 10 === 0 || e.epoch === e.epochs)
          ctx.log(`assistant: epoch ${e.epoch}/${e.epochs}, loss ${e.loss.toFixed(4)}`);
      },
      onStep: undefined,
      resume: undefined,
    });
    if (result.stopped) return undefined;
    // MixUp drops near-copies (extreme λ): draw until the pool is full.
    const parts: Float32Array[] = [];
    let have = 0;
    while (have < opts.pool) {
      const part = makeMixupPool(local.images, local.count, per, opts.pool - have, rng);
      parts.push(part.images);
      have += part.count;
    }
    const pool = { images: concatBlocks(parts), count: have };
    const logits = await predictLogits(model, pool.images, pool.count, dims);
    const targets = softTargets(responsesFromLogits(logits, C), set.T).values;
    ctx.log(
      `assistant: trained in ${((performance.now() - t0) / 1000).toFixed(0)} s; labelled ${pool.count} free MixUp images (no queries)`,
    );
    return { images: pool.images, targets, count: pool.count };
  } finally {
    model.dispose();
  }
}
