/**
 * `mekd` — Mapping-Emulation KD (Ma et al., CVPR 2024, "Aligning Logits Generatively"), in the
 * limited-query mode docs/methods.md §3 asks for. (1) Deprivatization: a generator G with one latent
 * dimension per class is trained adversarially on the local images, with the information-maximisation
 * term paid for by a small share of the budget. (2) A fixed pool of G(z), z ~ N(0, I_C), is labelled
 * once and joined to the labelled local images. (3) Distillation through the frozen G:
 * L = ‖G(z_s) − G(z_t)‖₁ + β · τ² · KL(softmax(t/τ) ‖ softmax(s/τ)), τ = 5.
 *
 * G's inputs are log-softmax at τ for both sides (z_s = log softmax(s/τ), z_t = log softmax(t/τ)),
 * i.e. logits up to the per-row constant that a probability teacher cannot reveal. A top-1 teacher's
 * one-hot reply is label-smoothed (ε = 0.1) first so that its logarithm is finite.
 *
 * Method state beyond the student (G, the pool) is not checkpointed: a resume retrains G from the
 * run's seed; pool replies already paid come back from the reply cache.
 */
import { z } from 'zod';
import * as tf from '@tensorflow/tfjs';
import type { DistillMethod, PlanContext } from './method.ts';
import { registerMethod } from './registry.ts';
import { softTargets } from './soft-targets.ts';
import { mekdLoss } from './losses.ts';
import { LatentGenerator, deprivatize } from './mekd-generator.ts';
import { saveSentGrid } from './image-grid.ts';
import { beginTransfer, concatBlocks, labelImages, top1Note } from './transfer-set.ts';
import { trainOnContext } from './train.ts';
import type { TeacherResponses } from '../teachers/responses.ts';

const kwargs = z.strictObject({
  tau: z.number().positive().max(100).default(5),
  beta: z.number().nonnegative().default(1),
  /** α of the information-maximisation term during deprivatization. */
  alpha: z.number().nonnegative().default(0.5),
  ganSteps: z.number().int().nonnegative().max(100000).default(300),
  ganBatch: z.number().int().positive().max(1024).default(64),
  /** Queries spent on ŷ during deprivatization (every GAN step with ŷ costs one batch). */
  infoQueries: z.number().int().nonnegative().optional(),
  /** Generated images labelled once; default: what the budget leaves. */
  pool: z.number().int().nonnegative().optional(),
  /** Channels of the generator's first feature map; the second has half as many. */
  generatorWidth: z.number().int().min(2).max(512).default(32),
  /** false: the reference code's online mode is not offered; this flag is kept for recipes to state it. */
  limitedQuery: z.literal(true).default(true),
});

function shares(ctx: PlanContext): { info: number; pool: number } {
  const k = kwargs.parse(ctx.kwargs);
  const room = Math.max(0, ctx.budget - ctx.localCount);
  // Default: a tenth of the room (whole batches) for ŷ, the rest for the pool.
  const info = Math.min(
    room,
    k.infoQueries ?? Math.min(k.ganSteps * k.ganBatch, Math.floor(room / 10 / k.ganBatch) * k.ganBatch),
  );
  const pool = Math.min(room - info, k.pool ?? room - info);
  return { info, pool };
}

function maxProbability(r: TeacherResponses): Float32Array {
  const out = new Float32Array(r.count);
  const t = softTargets(r, 1).values;
  for (let i = 0; i < r.count; i++) {
    let m = 0;
    for (let c = 0; c < r.numClasses; c++) m = Math.max(m, t[i * r.numClasses + c]);
    out[i] = m;
  }
  return out;
}

export const mekd: DistillMethod<typeof kwargs> = {
  key: 'mekd',
  title: 'MEKD: mapping-emulation KD through a generator (limited-query mode)',
  reference:
    'Ma, Li, Wang, Feng, Wang, Hu, "Aligning Logits Generatively for Principled Black-Box Knowledge Distillation", CVPR 2024',
  formula: 'L = ‖G(s/τ) − G(t/τ)‖₁ + β · τ² · KL(softmax(t/τ) ‖ softmax(s/τ)), G frozen, τ = 5',
  help: 'Trains a small image generator on your local images (a share of the budget goes to that), has the teacher label a fixed set of its images once, and matches the student to the teacher through the generator.',
  kwargs,
  plan(ctx) {
    const { info, pool } = shares(ctx);
    const notes = [
      'Limited-query mode: a fixed pool of generated images is labelled once and reused every epoch with the local images.',
    ];
    if (ctx.responseKind === 'top-1')
      notes.push(
        top1Note(
          "one-hot replies (label-smoothed by 0.1 for G's input); ŷ in the information term is 1 for every image, so it reduces to a reweighted adversarial term.",
        ),
      );
    return {
      total: ctx.localCount + info + pool,
      items: [
        { purpose: 'label the local images', queries: ctx.localCount },
        { purpose: 'teacher confidence ŷ during deprivatization', queries: info },
        { purpose: 'label the fixed pool of generated images', queries: pool },
      ],
      notes,
    };
  },
  async run(ctx) {
    const k = kwargs.parse(ctx.kwargs);
    const { local, dims, per, rng: genRng, replies } = await beginTransfer(ctx);
    const C = replies.numClasses;
    const { info, pool } = shares(ctx);
    const g = new LatentGenerator(C, dims, [k.generatorWidth, Math.max(1, Math.floor(k.generatorWidth / 2))], genRng);
    try {
      let infoLeft = info;
      await deprivatize(g, local.images, local.count, {
        steps: k.ganSteps,
        batchSize: k.ganBatch,
        alpha: k.alpha,
        rng: genRng,
        log: (m) => ctx.log(m),
        shouldStop: () => ctx.shouldStop(),
        teacherConfidence: async (images, count) => {
          if (infoLeft < count) return undefined;
          infoLeft -= count;
          return maxProbability(await labelImages(ctx, images, count));
        },
      });
      const z0 = new Float32Array(pool * C);
      for (let i = 0; i < z0.length; i++) z0[i] = genRng.normal();
      const images: Float32Array[] = [local.images];
      const hard = replies.kind === 'top-1';
      const smooth = (r: TeacherResponses) => {
        const t = softTargets(r, 1).values;
        if (hard) for (let i = 0; i < t.length; i++) t[i] = 0.9 * t[i] + 0.1 / C;
        return t;
      };
      const targets: Float32Array[] = [smooth(replies)];
      if (pool > 0) {
        const gen = new Float32Array(pool * per);
        for (let b0 = 0; b0 < pool; b0 += 256) {
          const n = Math.min(256, pool - b0);
          const out = tf.tidy(() => g.generate(tf.tensor2d(z0.subarray(b0 * C, (b0 + n) * C), [n, C])));
          gen.set((await out.data()) as Float32Array, b0 * per);
          out.dispose();
        }
        const r = await labelImages(ctx, gen, pool);
        saveSentGrid(ctx, 'sent-generator', { images: gen, count: pool, dims, labels: r.top1 });
        images.push(gen);
        targets.push(smooth(r));
      }
      // Targets are stored at T = 1 and softened at τ inside the loss: softmax(log q / τ).
      const tau = k.tau;
      const student = ctx.model;
      const result = await trainOnContext(ctx, {
        images: concatBlocks(images),
        targets: concatBlocks(targets),
        count: local.count + pool,
        dims,
        objective: {
          variables: student.trainableWeights.map((w) => w.read() as tf.Variable),
          loss: (x, q) => {
            const s = student.apply(x, { training: true }) as tf.Tensor2D;
            const zt = tf.logSoftmax(tf.div(tf.log(tf.maximum(q, 1e-12)), tau)) as tf.Tensor2D;
            const zs = tf.logSoftmax(tf.div(s, tau)) as tf.Tensor2D;
            return mekdLoss(g.generate(zs), g.generate(zt), s, tf.exp(zt) as tf.Tensor2D, tau, k.beta);
          },
        },
      });
      return {
        ...result,
        targets: `${hard ? 'one-hot top-1 (smoothed 0.1)' : replies.kind} at τ=${tau} on ${local.count} real + ${pool} generated images, through G`,
      };
    } finally {
      g.dispose();
    }
  },
};

registerMethod(mekd);
