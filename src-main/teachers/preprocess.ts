import type { TeacherInputSpec } from './teacher.ts';

/**
 * Converts engine images (NHWC float32 in [0, 1]) into the teacher's declared input:
 * value range, per-channel normalisation, then layout. Doing it in one pass keeps the bytes
 * sent (and hashed for the reply cache) exactly reproducible.
 */
export function toTeacherInput(
  images: Float32Array,
  count: number,
  dims: { height: number; width: number; channels: number },
  spec: TeacherInputSpec,
): Float32Array {
  const { height: h, width: w, channels: c } = dims;
  const plane = h * w;
  const per = plane * c;
  if (images.length < count * per) {
    throw new RangeError(`expected ${count}×${h}×${w}×${c} values, got ${images.length}`);
  }
  const [lo, hi] = spec.scale;
  const span = hi - lo;
  const mean = spec.mean ?? [];
  const std = spec.std ?? [];
  const out = new Float32Array(count * per);
  for (let n = 0; n < count; n++) {
    const base = n * per;
    for (let ch = 0; ch < c; ch++) {
      const m = mean.length ? mean[mean.length === 1 ? 0 : ch] : 0;
      const s = std.length ? std[std.length === 1 ? 0 : ch] : 1;
      for (let p = 0; p < plane; p++) {
        const v = (images[base + p * c + ch] * span + lo - m) / s;
        out[spec.layout === 'NCHW' ? base + ch * plane + p : base + p * c + ch] = v;
      }
    }
  }
  return out;
}

/** Checks that images of this size fit the teacher's declared input shape. */
export function checkInputFits(
  spec: TeacherInputSpec,
  dims: { height: number; width: number; channels: number },
): void {
  const s = spec.shape;
  if (s.length !== 4) throw new Error(`teacher input shape ${JSON.stringify(s)} is not 4-D`);
  const [h, w, c] = spec.layout === 'NCHW' ? [s[2], s[3], s[1]] : [s[1], s[2], s[3]];
  const ok = (want: number, have: number) => want === -1 || want === have;
  if (!ok(h, dims.height) || !ok(w, dims.width) || !ok(c, dims.channels)) {
    throw new Error(
      `images are ${dims.height}×${dims.width}×${dims.channels} but the teacher expects ` +
        `${h}×${w}×${c} (${spec.layout} ${JSON.stringify(s)})`,
    );
  }
}

/** Height, width and channels from a teacher's input spec. */
export function specImageDims(spec: TeacherInputSpec): { height: number; width: number; channels: number } {
  const s = spec.shape;
  const [h, w, c] = spec.layout === 'NCHW' ? [s[2], s[3], s[1]] : [s[1], s[2], s[3]];
  return { height: h, width: w, channels: c };
}
