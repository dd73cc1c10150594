/**
 * Helpers shared by methods that build a transfer set beyond the local images: label a batch of
 * images through the budgeted client, and join image/target blocks into one training set.
 */
import { labelLocalImages } from './label-local.ts';
import { Rng } from '../util/rng.ts';
import type { MethodContext } from './method.ts';
import type { TeacherResponses } from '../teachers/responses.ts';

export function imageSize(ctx: Pick<MethodContext, 'local'>): number {
  return ctx.local.height * ctx.local.width * ctx.local.channels;
}

/** Every query goes through `ctx.client`, so the run's budget stays a hard limit. */
export function labelImages(ctx: MethodContext, images: Float32Array, count: number): Promise<TeacherResponses> {
  return ctx.client.label(images, count, imageSize(ctx), (p) => ctx.onLabelProgress(p));
}

export function concatBlocks(blocks: Float32Array[]): Float32Array {
  const out = new Float32Array(blocks.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of blocks) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/** A note for plans: what a method falls back to when the teacher replies with labels only. */
export function top1Note(what: string): string {
  return `The teacher gives top-1 labels only: ${what}`;
}

/**
 * The opening shared by the methods that grow a transfer set: their own RNG, forked once before
 * anything else so the training RNG (which checkpoints hold) is the same on a fresh run and a
 * resume; then the local images, labelled once.
 */
export async function beginTransfer(ctx: MethodContext) {
  const local = ctx.local;
  const dims = { height: local.height, width: local.width, channels: local.channels };
  const rng = new Rng(ctx.rng.fork());
  const replies = await labelLocalImages(ctx);
  return { local, dims, per: imageSize(ctx), rng, replies };
}
