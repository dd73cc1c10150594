/**
 * `active-mixup` — Active MixUp for data-efficient black-box KD (Wang et al., CVPR 2020).
 * The local images are labelled once; then, in R rounds, a candidate pool of mixups is scored by
 * the current student and only the least confident ones (lowest max softmax probability) are sent
 * to the teacher, added to the transfer set, and the student keeps training.
 *
 * Training epochs are split evenly over the R + 1 phases (real images, then each round) and the
 * optimizer state carries across phases, so the run's epoch count and checkpoints stay one curve.
 * Resume: selections depend on the student at the time, so a resumed run re-selects with the
 * checkpointed student; replies already paid come from the cache and the budget stays a hard limit.
 */
import { z } from 'zod';
import type { DistillMethod, PlanContext } from './method.ts';
import { registerMethod } from './registry.ts';
import { softTargets } from './soft-targets.ts';
import { makeMixupPool } from './mixup.ts';
import { saveSentGrid } from './image-grid.ts';
import { beginTransfer, concatBlocks, labelImages, top1Note } from './transfer-set.ts';
import type { TrainState } from '../training/trainer.ts';
import { trainOnContext } from './train.ts';
import { kdKl, softCe } from './losses.ts';
import { predictLogits } from '../training/evaluate.ts';

const kwargs = z.strictObject({
  rounds: z.number().int().positive().max(100).default(4),
  /** Candidates scored per selected mixup. */
  candidateFactor: z.number().int().min(1).max(50).default(4),
  /** Mixups to label in all; default: what the budget leaves after the local images. */
  mixups: z.number().int().nonnegative().optional(),
  temperature: z.number().positive().max(100).default(4),
});

function mixupCount(ctx: PlanContext): number {
  const k = kwargs.parse(ctx.kwargs);
  const room = Math.max(0, ctx.budget - ctx.localCount);
  return Math.min(room, k.mixups ?? room);
}

/** Least confident first: indices of the `take` rows with the lowest max softmax probability. */
export function leastConfident(logits: Float32Array, C: number, take: number): Int32Array {
  const n = logits.length / C;
  const conf = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, logits[i * C + c]);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(logits[i * C + c] - max);
    conf[i] = 1 / sum;
  }
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => conf[a] - conf[b] || a - b);
  return Int32Array.from(idx.slice(0, take));
}

export const activeMixup: DistillMethod<typeof kwargs> = {
  key: 'active-mixup',
  title: 'Active MixUp (query the mixups the student is least sure of)',
  reference:
    'Wang, Li, Yu, Xu, Lin, "Neural Networks Are More Productive Teachers Than Human Raters: Active Mixup for Data-Efficient Knowledge Distillation from a Blackbox Model", CVPR 2020',
  formula:
    'round r: pick argmin_x max_c softmax(S(x))_c over mixups x = λx₁+(1−λ)x₂; L = T²·KL(softmax(t/T) ‖ softmax(s/T))',
  help: 'Asks the teacher about your local images, then, over a few rounds, about the blends of two images the student is least sure of. Spends what the budget leaves where the student has most to learn.',
  kwargs,
  plan(ctx) {
    const k = kwargs.parse(ctx.kwargs);
    const M = mixupCount(ctx);
    const notes = [
      `${k.rounds} rounds of ${Math.ceil(M / k.rounds)} mixups each, chosen from ${k.candidateFactor}× as many candidates scored by the student (scoring is free).`,
    ];
    if (ctx.responseKind === 'top-1')
      notes.push(
        top1Note('falls back to cross-entropy on one-hot targets; selection is unchanged (it uses only the student).'),
      );
    return {
      total: ctx.localCount + M,
      items: [
        { purpose: 'label the local images', queries: ctx.localCount },
        { purpose: `label the least-confident mixups over ${k.rounds} rounds`, queries: M },
      ],
      notes,
    };
  },
  async run(ctx) {
    const k = kwargs.parse(ctx.kwargs);
    const { local, dims, per, rng: poolRng, replies } = await beginTransfer(ctx);
    const hard = replies.kind === 'top-1';
    const T = hard ? 1 : k.temperature;
    const C = replies.numClasses;
    const M = mixupCount(ctx);
    const loss = hard ? softCe() : kdKl({ temperature: T });
    let told = false;
    const rounds = M > 0 ? k.rounds : 0;
    const E = ctx.training.epochs;
    // Phase p ends at epoch ⌊E·(p+1)/(R+1)⌋; phase 0 trains on the real images only.
    const phaseEnd = (p: number) => Math.floor((E * (p + 1)) / (rounds + 1));
    const images: Float32Array[] = [local.images];
    const targets: Float32Array[] = [softTargets(replies, T).values];
    let count = local.count;
    let state: TrainState | undefined = ctx.resume;
    let samplesSeen = 0;
    let epochsRun = 0;
    let selected = 0;
    const selectedImages: Float32Array[] = [];
    const selectedLabels: number[] = [];
    for (let p = 0; p <= rounds; p++) {
      if (p > 0) {
        const want = Math.min(Math.ceil(M / rounds), M - selected);
        if (want > 0) {
          const cands = makeMixupPool(local.images, local.count, per, want * k.candidateFactor, poolRng);
          const pick = leastConfident(await predictLogits(ctx.model, cands.images, cands.count, dims), C, want);
          const chosen = new Float32Array(pick.length * per);
          pick.forEach((src, j) => chosen.set(cands.images.subarray(src * per, (src + 1) * per), j * per));
          const r = await labelImages(ctx, chosen, pick.length);
          images.push(chosen);
          targets.push(softTargets(r, T).values);
          count += pick.length;
          selected += pick.length;
          if (selectedImages.length < 64) selectedImages.push(chosen.subarray(0, Math.min(pick.length, 16) * per));
          selectedLabels.push(...r.top1.subarray(0, Math.min(pick.length, 16)));
          ctx.log(
            `active-mixup: round ${p}/${rounds}: labelled the ${pick.length} least confident of ${cands.count} mixups`,
          );
        }
      }
      const end = phaseEnd(p);
      if ((state?.epoch ?? 0) >= end) continue;
      let last: TrainState | undefined;
      const result = await trainOnContext(ctx, {
        images: concatBlocks(images),
        targets: concatBlocks(targets),
        count,
        epochs: end,
        // Each phase trains part of one run: the learning-rate schedule spans all E epochs.
        scheduleEpochs: E,
        loss,
        // How training runs is the same in every phase: said once.
        log: (m) => {
          if (!told) ctx.log(m);
          told = true;
        },
        onEpoch: async (e) => {
          await ctx.onEpoch({ ...e, epochs: E });
          if (e.epoch === end) last = await e.snapshot();
        },
        resume: state,
      });
      samplesSeen += result.samplesSeen;
      epochsRun = Math.max(epochsRun, result.epochsRun);
      if (result.stopped) return { epochsRun, samplesSeen, stopped: true, targets: '' };
      state = last;
    }
    const sel = concatBlocks(selectedImages);
    saveSentGrid(ctx, 'sent-active-mixup', { images: sel, count: sel.length / per, dims, labels: selectedLabels });
    return {
      epochsRun,
      samplesSeen,
      stopped: false,
      targets: `${hard ? 'one-hot top-1' : `${replies.kind} at T=${T}`} on ${local.count} real + ${selected} selected mixups`,
    };
  },
};

registerMethod(activeMixup);
