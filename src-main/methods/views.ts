/**
 * Augmented views of the local images as teacher queries: each view is one local image under a
 * small random affine warp (rotation, scale, shear, translation; optional horizontal flip),
 * resampled bilinearly. Unlike a MixUp, a view stays close to the deployment distribution, and the
 * teacher's reply for it says how the teacher's output moves around that real image, which
 * augmenting with the original image's reply (free, but unchanged target) cannot.
 */
import type { Rng } from '../util/rng.ts';

export interface ViewOptions {
  /** Largest rotation, degrees, either way. */
  rotate: number;
  /** Largest relative change of scale, either way (0.1 → 0.9–1.1). */
  scale: number;
  /** Largest shear, degrees, either way. */
  shear: number;
  /** Largest translation in pixels, either way, on each axis. */
  translate: number;
  /** Probability of a horizontal flip. */
  flip: number;
}

export const DEFAULT_VIEW_OPTIONS: ViewOptions = { rotate: 12, scale: 0.12, shear: 8, translate: 2.5, flip: 0 };

export interface ViewPool {
  images: Float32Array;
  count: number;
  /** Per view: the index of the local image it was made from. */
  sources: Int32Array;
}

/**
 * `wanted` views, cycling through the local images in a seeded random order so each image gets
 * ⌊wanted/sourceCount⌋ or one more. Pixels that fall outside the source read as 0 (background).
 */
export function makeViewPool(
  images: Float32Array,
  sourceCount: number,
  dims: { height: number; width: number; channels: number },
  wanted: number,
  rng: Rng,
  opts: ViewOptions = DEFAULT_VIEW_OPTIONS,
): ViewPool {
  const per = dims.height * dims.width * dims.channels;
  const out = new Float32Array(wanted * per);
  const sources = new Int32Array(wanted);
  const order = Int32Array.from({ length: sourceCount }, (_, i) => i);
  for (let k = 0; k < wanted; k++) {
    if (k % sourceCount === 0) rng.shuffle(order);
    const src = order[k % sourceCount];
    sources[k] = src;
    warpInto(
      out.subarray(k * per, (k + 1) * per),
      images.subarray(src * per, (src + 1) * per),
      dims,
      randomAffine(dims, rng, opts),
    );
  }
  return { images: out, count: wanted, sources };
}

/** Inverse map (output pixel → source position) as [a, b, c, d, e, f]: sx = a·x + b·y + c, sy = d·x + e·y + f. */
export type Affine = [number, number, number, number, number, number];

/** A random warp about the image centre, returned as the inverse map used for resampling. */
export function randomAffine(dims: { height: number; width: number }, rng: Rng, o: ViewOptions): Affine {
  const u = () => 2 * rng.next() - 1;
  const theta = (u() * o.rotate * Math.PI) / 180;
  const s = 1 + u() * o.scale;
  const sh = (u() * o.shear * Math.PI) / 180;
  const tx = u() * o.translate;
  const ty = u() * o.translate;
  const flip = o.flip > 0 && rng.next() < o.flip ? -1 : 1;
  // Forward map of centred coordinates: p' = R(θ)·Shear(sh)·S(s)·F·p + t.
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const t = Math.tan(sh);
  // M = R · [[1, t], [0, 1]] · diag(s·flip, s)
  const m00 = cos * s * flip;
  const m01 = (cos * t - sin) * s;
  const m10 = sin * s * flip;
  const m11 = (sin * t + cos) * s;
  const det = m00 * m11 - m01 * m10;
  const i00 = m11 / det;
  const i01 = -m01 / det;
  const i10 = -m10 / det;
  const i11 = m00 / det;
  const cx = (dims.width - 1) / 2;
  const cy = (dims.height - 1) / 2;
  // source = M⁻¹·(out − c − t) + c
  const ox = -cx - tx;
  const oy = -cy - ty;
  return [i00, i01, i00 * ox + i01 * oy + cx, i10, i11, i10 * ox + i11 * oy + cy];
}

/** Bilinear resampling of one NHWC image through an inverse affine map; outside reads as 0. */
export function warpInto(
  dst: Float32Array,
  src: Float32Array,
  dims: { height: number; width: number; channels: number },
  m: Affine,
): void {
  const { height: H, width: W, channels: C } = dims;
  const at = (y: number, x: number, c: number) => (y >= 0 && y < H && x >= 0 && x < W ? src[(y * W + x) * C + c] : 0);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = m[0] * x + m[1] * y + m[2];
      const sy = m[3] * x + m[4] * y + m[5];
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < C; c++) {
        const top = at(y0, x0, c) * (1 - fx) + at(y0, x0 + 1, c) * fx;
        const bottom = at(y0 + 1, x0, c) * (1 - fx) + at(y0 + 1, x0 + 1, c) * fx;
        dst[(y * W + x) * C + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
}
