/**
 * `gpd` — Gap-Preserving Distillation with a dynamic teacher (Guo et al., ICLR 2025), adapted to a
 * black-box teacher (docs/methods.md §4; the adaptation is ours). The local images are labelled once.
 * Per batch: L = L_DT + L_S with L_DT = KD(d, t) and L_S = KD(s, t) + 3 · CE_ls(s, stopgrad(softmax(d))),
 * t the black-box teacher's target, d the dynamic teacher (the student widened r×, sharing its
 * weights), s the student; one Adam step on the shared variables. The student is extracted with no
 * retraining. `dynamicTeacher: false` is the ablation: the same recipe with L = KD(s, t) only.
 *
 * Checkpoints hold the student (the DT's shared slice); a resume re-widens it, so the DT's extra
 * channels restart from copies of the student (not exact; documented).
 */
import { z } from 'zod';
import * as tf from '@tensorflow/tfjs';
import type { DistillMethod } from './method.ts';
import { registerMethod } from './registry.ts';
import { softTargets } from './soft-targets.ts';
import { gpdStudentLoss, kdKl, softCe } from './losses.ts';
import { labelLocalImages } from './label-local.ts';
import { DynamicTeacher } from './gpd-dynamic-teacher.ts';
import { top1Note } from './transfer-set.ts';
import { resolveLoss } from '../training/step-registry.ts';
import { trainOnContext } from './train.ts';
import { Rng } from '../util/rng.ts';

const kwargs = z.strictObject({
  temperature: z.number().positive().max(100).default(4),
  /** Widening factor r of the dynamic teacher (the paper uses 2). */
  widen: z.number().int().min(2).max(4).default(2),
  /** λ of the student's cross-entropy towards the dynamic teacher (3 in the paper). */
  dtWeight: z.number().nonnegative().default(3),
  smoothing: z.number().min(0).max(0.5).default(0.1),
  /** false: the ablation without the dynamic teacher (plain KD, same recipe). */
  dynamicTeacher: z.boolean().default(true),
});

export const gpd: DistillMethod<typeof kwargs> = {
  key: 'gpd',
  title: 'GPD: gap-preserving distillation with a dynamic teacher',
  reference:
    'Guo et al., "Gap Preserving Distillation by Building Bidirectional Mappings with A Dynamic Teacher", ICLR 2025',
  formula:
    'L = KD(d, t) + KD(s, t) + 3 · CE_ls(s, sg(softmax(d))), ε = 0.1; d = student widened r× with shared weights',
  help: 'Asks the teacher once per local image, as kd-soft does, and trains the student inside a wider copy of itself that shares its weights, which narrows the gap to the teacher. No more queries than kd-soft.',
  kwargs,
  plan(ctx) {
    const k = kwargs.parse(ctx.kwargs);
    const notes = [
      k.dynamicTeacher
        ? `Dynamic teacher: the student widened ${k.widen}× (shared weights, extracted without retraining); it costs compute, no queries. Supports lenet5, lenet5-half and mlp.`
        : 'Ablation: no dynamic teacher; plain KD on the same transfer set.',
    ];
    if (ctx.responseKind === 'top-1')
      notes.push(
        top1Note(
          'KD terms fall back to cross-entropy on one-hot labels; the dynamic teacher still gives the student soft targets.',
        ),
      );
    return { total: ctx.localCount, items: [{ purpose: 'label the local images', queries: ctx.localCount }], notes };
  },
  async run(ctx) {
    const k = kwargs.parse(ctx.kwargs);
    const local = ctx.local;
    const dims = { height: local.height, width: local.width, channels: local.channels };
    const replies = await labelLocalImages(ctx);
    const hard = replies.kind === 'top-1';
    const T = hard ? 1 : k.temperature;
    const targets = softTargets(replies, T);
    const loss = hard ? softCe() : kdKl({ temperature: T });
    const kd = resolveLoss(loss);
    const dt = k.dynamicTeacher ? new DynamicTeacher(ctx.model, k.widen, new Rng(ctx.rng.fork())) : undefined;
    try {
      const result = await trainOnContext(ctx, {
        images: local.images,
        targets: targets.values,
        count: local.count,
        dims,
        // Without the dynamic teacher the loss alone is trained, and the worker threads can rebuild it.
        loss,
        objective: dt && {
          variables: dt.variables,
          loss: (x, q) => {
            const d = dt.forwardTeacher(x);
            const s = dt.forwardStudent(x);
            return tf.add(
              kd(d, q),
              gpdStudentLoss(s, q, d, { temperature: T, weight: k.dtWeight, smoothing: k.smoothing, hard }),
            ) as tf.Scalar;
          },
        },
        onEpoch: (e) => {
          // Evaluation and checkpoints read the zoo model: give it the current shared slice first.
          dt?.copyIntoStudent();
          return ctx.onEpoch(e);
        },
      });
      dt?.copyIntoStudent();
      return {
        ...result,
        targets: `${hard ? 'one-hot top-1' : `${targets.source} at T=${T}`}${dt ? ` + dynamic teacher ×${k.widen}` : ' (no dynamic teacher)'}`,
      };
    } finally {
      dt?.dispose();
    }
  },
};

registerMethod(gpd);
