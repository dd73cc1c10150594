/**
 * `kd-hard` — the student learns the teacher's top-1 decisions with plain cross-entropy.
 * Needs nothing beyond labels, so it runs unchanged on every response kind.
 */
import { z } from 'zod';
import type { DistillMethod } from './method.ts';
import { registerMethod } from './registry.ts';
import { hardTargets } from './soft-targets.ts';
import { labelLocalImages } from './label-local.ts';
import { trainOnContext } from './train.ts';
import { softCe } from './losses.ts';

const kwargs = z.strictObject({});

export const kdHard: DistillMethod<typeof kwargs> = {
  key: 'kd-hard',
  title: 'Standard KD (hard labels)',
  reference: 'Cross-entropy on teacher pseudo-labels (the hard-label baseline of black-box KD)',
  formula: 'L = −log softmax(s)[argmax t]',
  help: 'Asks the teacher once per local image and trains on its top answer only. Use it when the teacher reveals just a label.',
  kwargs,
  plan(ctx) {
    return {
      total: ctx.localCount,
      items: [{ purpose: 'label the local images', queries: ctx.localCount }],
      notes: ['Uses only the top-1 label of each reply, whatever the teacher reveals.'],
    };
  },
  async run(ctx) {
    const replies = await labelLocalImages(ctx);
    const local = ctx.local;
    const result = await trainOnContext(ctx, {
      images: local.images,
      targets: hardTargets(replies),
      count: local.count,
      loss: softCe(),
    });
    return { ...result, targets: 'one-hot top-1' };
  },
};

registerMethod(kdHard);
