/**
 * Bilinear resize of one HWC float image, sampling at pixel centres (the convention most
 * training frameworks use), so a same-size resize is an exact copy and downscaling by 2
 * averages 2×2 blocks.
 */
export function resizeBilinear(
  src: Float32Array,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
): Float32Array {
  const out = new Float32Array(outH * outW * channels);
  const xs = axisTaps(inW, outW);
  for (let y = 0; y < outH; y++) {
    const [y0, y1, fy] = tap(y, inH, outH);
    for (let x = 0; x < outW; x++) {
      const x0 = xs.lo[x];
      const x1 = xs.hi[x];
      const fx = xs.frac[x];
      for (let c = 0; c < channels; c++) {
        const a = src[(y0 * inW + x0) * channels + c];
        const b = src[(y0 * inW + x1) * channels + c];
        const d = src[(y1 * inW + x0) * channels + c];
        const e = src[(y1 * inW + x1) * channels + c];
        const top = a + (b - a) * fx;
        const bottom = d + (e - d) * fx;
        out[(y * outW + x) * channels + c] = top + (bottom - top) * fy;
      }
    }
  }
  return out;
}

function tap(i: number, inSize: number, outSize: number): [number, number, number] {
  const pos = Math.min(Math.max((i + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
  const lo = Math.floor(pos);
  return [lo, Math.min(lo + 1, inSize - 1), pos - lo];
}

function axisTaps(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; frac: Float32Array } {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) [lo[i], hi[i], frac[i]] = tap(i, inSize, outSize);
  return { lo, hi, frac };
}
