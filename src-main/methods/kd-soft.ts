/**
 * `kd-soft` — standard knowledge distillation (Hinton, Vinyals & Dean 2015).
 * Each local image is labelled once; the student minimises T² · KL(q_T ‖ softmax(s/T)).
 */
import { z } from 'zod';
import type { DistillMethod } from './method.ts';
import { registerMethod } from './registry.ts';
import { softTargets } from './soft-targets.ts';
import { labelLocalImages } from './label-local.ts';
import { trainOnContext } from './train.ts';
import { kdKl, softCe } from './losses.ts';

const kwargs = z.strictObject({ temperature: z.number().positive().max(100).default(4) });

export const kdSoft: DistillMethod<typeof kwargs> = {
  key: 'kd-soft',
  title: 'Standard KD (soft targets)',
  reference: 'Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015',
  formula: 'L = T² · KL(softmax(t/T) ‖ softmax(s/T)); with probabilities, softmax(t/T)_i = p_i^(1/T) / Σ_j p_j^(1/T)',
  help: 'Asks the teacher once per local image and trains the student to match its full (softened) answer. The usual first choice when the teacher returns scores.',
  kwargs,
  plan(ctx) {
    const notes = ['Each local image is sent once; augmentation during training costs no queries.'];
    if (ctx.responseKind === 'top-1')
      notes.push('The teacher gives labels only: falls back to cross-entropy on its top-1 labels (same as kd-hard).');
    if (ctx.responseKind === 'top-k')
      notes.push('Top-k replies: the hidden classes share the remaining probability mass evenly before softening.');
    return { total: ctx.localCount, items: [{ purpose: 'label the local images', queries: ctx.localCount }], notes };
  },
  async run(ctx) {
    const { temperature } = kwargs.parse(ctx.kwargs);
    const replies = await labelLocalImages(ctx);
    const hard = replies.kind === 'top-1';
    const T = hard ? 1 : temperature;
    const targets = softTargets(replies, T);
    const local = ctx.local;
    const result = await trainOnContext(ctx, {
      images: local.images,
      targets: targets.values,
      count: local.count,
      loss: hard ? softCe() : kdKl({ temperature: T }),
    });
    return { ...result, targets: hard ? 'one-hot top-1 (CE fallback)' : `${targets.source} at T=${T}` };
  },
};

registerMethod(kdSoft);
