/**
 * `fs-bbt` — Black-box Few-shot KD (Nguyen et al., ECCV 2022).
 * The N local images are labelled once; a conditional VAE is trained on them conditioned on the
 * teacher's top-1; a MixUp pool of M pairs (extreme λ dropped and replaced by as many CVAE samples)
 * is labelled once; the student trains on real ∪ mixup ∪ CVAE against the teacher's replies, with
 * on-the-fly MixUp and augmentation that cost no queries.
 * Two kwargs go beyond the paper, both off by default (their trials are in
 * docs/results/fashion-fewshot-trials/): `views` spends a share of the pool on augmented views of
 * the local images instead, and `assistant` trains a wider zoo model on the teacher-labelled set,
 * which then labels free MixUp images for the student (assistant.ts).
 *
 * Method state beyond the student (the CVAE, the pools) is not checkpointed: on resume it is rebuilt
 * from the run's seed, and every reply comes back from the reply cache at no cost.
 */
import { z } from 'zod';
import type { DistillMethod, PlanContext } from './method.ts';
import { registerMethod } from './registry.ts';
import { Rng } from '../util/rng.ts';
import { softTargets } from './soft-targets.ts';
import { makeMixupPool } from './mixup.ts';
import { ConditionalVae } from './cvae.ts';
import { saveSentGrid } from './image-grid.ts';
import { beginTransfer, concatBlocks, labelImages, top1Note } from './transfer-set.ts';
import { makeViewPool } from './views.ts';
import { assistantRows } from './assistant.ts';
import { listStudents } from '../students/index.ts';
import { trainOnContext } from './train.ts';
import { kdKl, softCe } from './losses.ts';
import { mixupHook } from './mixup.ts';

const kwargs = z.strictObject({
  /** MixUp pairs M to label; default: everything the budget leaves after the N local images. */
  mixupPairs: z.number().int().nonnegative().optional(),
  /** CVAE training epochs (the paper uses 200 on Fashion-MNIST). */
  cvaeEpochs: z.number().int().positive().max(1000).default(100),
  /** Probability that a training row is mixed on the fly with another row of its batch. */
  onTheFlyMixup: z.number().min(0).max(1).default(0.5),
  /** Softening of the targets; the paper trains with plain soft-target cross-entropy (T = 1). */
  temperature: z.number().positive().max(100).default(1),
  /**
   * How many times each local image (with its reply) appears in the training set. The local images
   * are the only ones drawn from the deployment distribution; repeating them costs no queries.
   */
  realRepeats: z.number().int().min(1).max(20).default(1),
  /**
   * Share of the synthetic budget spent on augmented views of the local images (a random affine
   * warp of one real image each) instead of MixUp pairs. 0 is the paper's method.
   */
  views: z.number().min(0).max(1).default(0),
  /**
   * A teacher assistant (zoo key, e.g. lenet5): a wider model trained on the teacher-labelled
   * transfer set first, which then labels `assistantPool` free MixUp images for the student at no
   * query cost. Off by default.
   */
  assistant: z
    .string()
    .refine((key) => listStudents().some((s) => s.key === key), {
      message: 'not a zoo student (see `distill students`)',
    })
    .optional(),
  assistantPool: z.number().int().min(1).max(1_000_000).default(40_000),
});

function synthetic(ctx: PlanContext): number {
  const k = kwargs.parse(ctx.kwargs);
  const room = Math.max(0, ctx.budget - ctx.localCount);
  return Math.min(room, k.mixupPairs ?? room);
}

/** How M synthetic queries split: augmented views of local images, then MixUp pairs (with CVAE replacements). */
function split(viewShare: number, M: number): { views: number; mixup: number } {
  const views = Math.round(viewShare * M);
  return { views, mixup: M - views };
}

export const fsBbt: DistillMethod<typeof kwargs> = {
  key: 'fs-bbt',
  title: 'FS-BBT: black-box few-shot KD (MixUp + CVAE)',
  reference: 'Nguyen, Gupta, Do, Venkatesh, "Black-box Few-shot Knowledge Distillation", ECCV 2022',
  formula:
    'x = λx₁ + (1−λ)x₂ (λ∈(0.05,0.95)) ∪ CVAE samples; L = −Σ q·log softmax(s) on real ∪ synthetic, plus free on-the-fly MixUp',
  help: 'For a few local images: the teacher labels them, blends of pairs of them and images a small generative model (CVAE) learns to make from them, each once. Use it when you have only a handful of images per class.',
  kwargs,
  plan(ctx) {
    const k = kwargs.parse(ctx.kwargs);
    const M = synthetic(ctx);
    const { views, mixup } = split(k.views, M);
    const notes = [
      'About 12% of MixUp pairs (λ ≤ 0.05 or ≥ 0.95) are replaced by as many CVAE samples, so the synthetic count is exactly M.',
      'On-the-fly MixUp and augmentation during training cost no queries.',
    ];
    if (k.assistant)
      notes.push(
        `A ${k.assistant} assistant trained on the teacher-labelled set labels ${k.assistantPool} more MixUp images for the student at no query cost.`,
      );
    if (views > 0)
      notes.push(
        `${views} of the ${M} synthetic queries are augmented views of the local images (random affine warps), ${mixup} are MixUp pairs and CVAE samples.`,
      );
    if (ctx.responseKind === 'top-1')
      notes.push(top1Note('targets are one-hot; on-the-fly MixUp still gives the student mixed targets.'));
    if (ctx.responseKind === 'top-k') notes.push('Top-k replies: hidden classes share the remaining mass evenly.');
    return {
      total: ctx.localCount + M,
      items: [
        { purpose: 'label the local images (CVAE conditions and real targets)', queries: ctx.localCount },
        ...(views > 0 ? [{ purpose: 'label augmented views of the local images', queries: views }] : []),
        ...(mixup > 0 || views === 0 ? [{ purpose: 'label the MixUp pool and CVAE samples', queries: mixup }] : []),
      ],
      notes,
    };
  },
  async run(ctx) {
    const k = kwargs.parse(ctx.kwargs);
    const { local, dims, per, rng: poolRng, replies: realReplies } = await beginTransfer(ctx);
    const M = synthetic(ctx);
    const { views: V, mixup: Mx } = split(k.views, M);
    const blocks: Float32Array[] = Array.from({ length: k.realRepeats }, () => local.images);
    let synthImages: Float32Array = new Float32Array(0);
    let synthCount = 0;
    let targetsSynth: Float32Array = new Float32Array(0);
    if (M > 0) {
      // Views draw from a generator of their own, forked only when there are views, so a recipe
      // without them gets exactly the pool it got before views existed.
      const viewPool =
        V > 0
          ? makeViewPool(local.images, local.count, dims, V, new Rng(poolRng.fork()))
          : { images: new Float32Array(0), count: 0 };
      if (V > 0) ctx.log(`fs-bbt: ${V} augmented views of the local images to label`);
      const pool = makeMixupPool(local.images, local.count, per, Mx, poolRng);
      const cvaeCount = Mx - pool.count;
      ctx.log(`fs-bbt: ${pool.count} MixUp images and ${cvaeCount} CVAE samples to label`);
      let cvaeImages: Float32Array = new Float32Array(0);
      if (cvaeCount > 0) {
        const cvae = new ConditionalVae(per, realReplies.numClasses, poolRng);
        try {
          const loss = await cvae.train(local.images, realReplies.top1, local.count, {
            epochs: k.cvaeEpochs,
            batchSize: 256,
            rng: poolRng,
            shouldStop: () => ctx.shouldStop(),
          });
          ctx.log(`fs-bbt: CVAE trained ${k.cvaeEpochs} epochs, final loss ${loss.toFixed(1)} per image`);
          const sample = await cvae.sample(cvaeCount, poolRng);
          cvaeImages = sample.images;
        } finally {
          cvae.dispose();
        }
      }
      synthImages = concatBlocks([viewPool.images, pool.images, cvaeImages]);
      synthCount = M;
      const synthReplies = await labelImages(ctx, synthImages, synthCount);
      if (V > 0)
        saveSentGrid(ctx, 'sent-views', { images: viewPool.images, count: V, dims, labels: synthReplies.top1 });
      if (pool.count > 0)
        saveSentGrid(ctx, 'sent-mixup', {
          images: pool.images,
          count: pool.count,
          dims,
          labels: synthReplies.top1.subarray(V),
        });
      if (cvaeCount > 0) {
        saveSentGrid(ctx, 'sent-cvae', {
          images: cvaeImages,
          count: cvaeCount,
          dims,
          labels: synthReplies.top1.subarray(V + pool.count),
        });
      }
      blocks.push(synthImages);
      targetsSynth = softTargets(synthReplies, realReplies.kind === 'top-1' ? 1 : k.temperature).values;
    }
    const hard = realReplies.kind === 'top-1';
    const T = hard ? 1 : k.temperature;
    const real = softTargets(realReplies, T);
    const targets = concatBlocks([...Array.from({ length: k.realRepeats }, () => real.values), targetsSynth]);
    const count = local.count * k.realRepeats + synthCount;
    if (k.realRepeats > 1)
      ctx.log(
        `fs-bbt: the ${local.count} local images appear ${k.realRepeats} times in the training set (${count} rows)`,
      );
    const C = realReplies.numClasses;
    const loss = T === 1 ? softCe() : kdKl({ temperature: T });
    const hook = mixupHook({ p: k.onTheFlyMixup });
    let images = concatBlocks(blocks);
    let allTargets = targets;
    let rows = count;
    let assisted = '';
    if (k.assistant) {
      const extra = await assistantRows(
        ctx,
        { student: k.assistant, pool: k.assistantPool },
        { images, targets, count, dims, C, T, loss, hook },
        local,
        new Rng(poolRng.fork()),
      );
      if (!extra) return { epochsRun: ctx.resume?.epoch ?? 0, samplesSeen: 0, stopped: true, targets: '' };
      images = concatBlocks([images, extra.images]);
      allTargets = concatBlocks([targets, extra.targets]);
      rows += extra.count;
      assisted = ` + ${extra.count} free MixUp images labelled by a ${k.assistant} assistant`;
    }
    const result = await trainOnContext(ctx, { images, targets: allTargets, count: rows, loss, batchHook: hook });
    return {
      ...result,
      targets: `${real.source}${T === 1 ? '' : ` at T=${T}`} on ${local.count} real + ${synthCount} synthetic images${assisted}`,
    };
  },
};

registerMethod(fsBbt);
