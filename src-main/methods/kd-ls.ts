/**
 * `kd-ls` — standard knowledge distillation (Hinton, Vinyals & Dean 2015) in its two-term form, the
 * hard term on the teacher's top-1 label smoothed as in Szegedy et al. 2016:
 * L = (1 − α) · T² · KL(q_T ‖ softmax(s/T)) + α · CE(s, (1 − ε) · onehot(top-1) + ε / C).
 * The top-1 label is the argmax of the softened target row (softening keeps the order), so the
 * targets stay one row per image. Each local image is labelled once, as in kd-soft.
 */
import { z } from 'zod';
import * as tf from '@tensorflow/tfjs';
import type { DistillMethod } from './method.ts';
import { registerMethod } from './registry.ts';
import { softTargets } from './soft-targets.ts';
import { labelLocalImages } from './label-local.ts';
import { kdKlLoss, labelSmoothedSoftCrossEntropy } from './losses.ts';
import { trainOnContext } from './train.ts';
import { defineLoss } from '../training/step-registry.ts';

const kwargs = z.strictObject({
  temperature: z.number().positive().max(100).default(4),
  /** Weight α of the smoothed top-1 term; 1 − α goes to the soft term. */
  alpha: z.number().min(0).max(1).default(0.5),
  /** Label smoothing ε of the top-1 term. */
  smoothing: z.number().min(0).max(0.5).default(0.1),
});

export const kdLsLoss = defineLoss(
  import.meta.url,
  'kd-ls',
  ({ temperature, alpha, smoothing }: { temperature: number; alpha: number; smoothing: number }) =>
    (s, q) =>
      tf.tidy(() => {
        const top1 = tf.oneHot(tf.argMax(q, 1), q.shape[1]).toFloat() as tf.Tensor2D;
        const hard = labelSmoothedSoftCrossEntropy(s, top1, smoothing);
        return tf.add(tf.mul(kdKlLoss(s, q, temperature), 1 - alpha), tf.mul(hard, alpha)) as tf.Scalar;
      }),
);

export const kdLs: DistillMethod<typeof kwargs> = {
  key: 'kd-ls',
  title: 'Standard KD with a label-smoothed top-1 term',
  reference:
    'Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015; label smoothing: Szegedy et al., "Rethinking the Inception Architecture", 2016',
  formula:
    'L = (1 − α) · T² · KL(softmax(t/T) ‖ softmax(s/T)) + α · CE(s, (1 − ε) · onehot(argmax t) + ε/C), α = 0.5, ε = 0.1',
  help: 'Standard KD plus a smoothed version of the teacher’s top answer, which keeps the student from copying the teacher’s overconfidence. Needs scores from the teacher.',
  kwargs,
  plan(ctx) {
    const notes = ['Each local image is sent once; augmentation during training costs no queries.'];
    if (ctx.responseKind === 'top-1')
      notes.push(
        'The teacher gives labels only: both terms use its top-1 label at T = 1, which is cross-entropy with smoothing α·ε.',
      );
    if (ctx.responseKind === 'top-k')
      notes.push('Top-k replies: the hidden classes share the remaining probability mass evenly before softening.');
    return { total: ctx.localCount, items: [{ purpose: 'label the local images', queries: ctx.localCount }], notes };
  },
  async run(ctx) {
    const k = kwargs.parse(ctx.kwargs);
    const replies = await labelLocalImages(ctx);
    const T = replies.kind === 'top-1' ? 1 : k.temperature;
    const targets = softTargets(replies, T);
    const local = ctx.local;
    const result = await trainOnContext(ctx, {
      images: local.images,
      targets: targets.values,
      count: local.count,
      loss: kdLsLoss({ temperature: T, alpha: k.alpha, smoothing: k.smoothing }),
    });
    return { ...result, targets: `${targets.source} at T=${T} + top-1 smoothed by ε=${k.smoothing} (α=${k.alpha})` };
  },
};

registerMethod(kdLs);
