/**
 * The hand-written WebAssembly SIMD kernels: every embedded binary is its source compiled, and the
 * depthwise convolution's two gradients compute the textbook sum (checked against a plain JS loop) on
 * strided, padded and non-square cases. The wasm backend's kernels built on them are compared with the
 * cpu backend in wasm-gradient-kernels.test.ts; the batch-norm kernels are compared with tfjs's own
 * layer in training-speedups.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileWat } from '../../scripts/compile-wat.ts';
import { WASM_BASE64 } from '../../src-main/backends/wasm-simd/depthwise-grads.bytes.ts';
import { WASM_BASE64 as HEAP_PASSES_BASE64 } from '../../src-main/backends/wasm-simd/heap-passes.bytes.ts';
import {
  SIMD_MAX_BYTES,
  depthwiseFilterGradSimd,
  depthwiseInputGradSimd,
  simdDepthwiseBytes,
  simdDepthwiseGradsFit,
  type DepthwiseShape,
} from '../../src-main/backends/wasm-simd/depthwise-grads.ts';
import { Rng } from '../../src-main/util/rng.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src-main', 'backends', 'wasm-simd');

test('each embedded binary is its .wat compiled (npm run build:wasm-kernels after editing one)', async () => {
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith('.wat'))
    .sort();
  assert.deepEqual(sources, ['depthwise-grads.wat', 'heap-passes.wat']);
  for (const file of sources) {
    const compiled = Buffer.from(await compileWat(file, readFileSync(path.join(dir, file), 'utf8')));
    const embedded = file === 'depthwise-grads.wat' ? WASM_BASE64 : HEAP_PASSES_BASE64;
    assert.ok(
      compiled.equals(Buffer.from(embedded, 'base64')),
      `${file}: embedded bytes differ from the compiled source`,
    );
  }
});

/** Both gradients by the plain sum over every (output pixel, tap) pair that lands inside the input. */
function reference(
  x: Float32Array,
  w: Float32Array,
  dy: Float32Array,
  s: DepthwiseShape,
): { dW: Float64Array; dx: Float64Array } {
  const out = new Float64Array(s.KH * s.KW * s.C);
  const dx = new Float64Array(s.N * s.H * s.W * s.C);
  for (let n = 0; n < s.N; n++)
    for (let oy = 0; oy < s.Ho; oy++)
      for (let ox = 0; ox < s.Wo; ox++) {
        for (let ky = 0; ky < s.KH; ky++)
          for (let kx = 0; kx < s.KW; kx++) {
            const iy = oy * s.strideH - s.padTop + ky;
            const ix = ox * s.strideW - s.padLeft + kx;
            if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
            for (let c = 0; c < s.C; c++) {
              const xi = ((n * s.H + iy) * s.W + ix) * s.C + c;
              const g = dy[((n * s.Ho + oy) * s.Wo + ox) * s.C + c];
              out[(ky * s.KW + kx) * s.C + c] += x[xi] * g;
              dx[xi] += w[(ky * s.KW + kx) * s.C + c] * g;
            }
          }
      }
  return { dW: out, dx };
}

function assertClose(got: Float32Array, ref: Float64Array, what: string): void {
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < got.length; i++)
    assert.ok(Math.abs(got[i] - ref[i]) <= 1e-5 * scale, `${what} ${i}: ${got[i]} vs ${ref[i]}`);
}

const cases: DepthwiseShape[] = [
  // MobileNet-tiny's blocks at batch 2: 'same' 3x3, stride 1 and 2.
  { N: 2, H: 14, W: 14, C: 8, Ho: 14, Wo: 14, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, KH: 3, KW: 3 },
  { N: 2, H: 14, W: 14, C: 16, Ho: 7, Wo: 7, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, KH: 3, KW: 3 },
  { N: 2, H: 7, W: 7, C: 32, Ho: 4, Wo: 4, strideH: 2, strideW: 2, padTop: 1, padLeft: 1, KH: 3, KW: 3 },
  // Non-square input and kernel, different strides, padding on one side only, 4 channels.
  { N: 3, H: 9, W: 6, C: 4, Ho: 5, Wo: 6, strideH: 2, strideW: 1, padTop: 2, padLeft: 0, KH: 5, KW: 3 },
  // 'valid': no padding, taps never leave the input.
  { N: 1, H: 8, W: 8, C: 12, Ho: 4, Wo: 4, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, KH: 5, KW: 5 },
];

for (const s of cases) {
  test(`matches the plain sum: x ${s.N}x${s.H}x${s.W}x${s.C}, kernel ${s.KH}x${s.KW}, stride ${s.strideH}x${s.strideW}, pad top ${s.padTop} left ${s.padLeft}`, () => {
    const rng = new Rng(s.C * 100 + s.KH);
    const x = Float32Array.from({ length: s.N * s.H * s.W * s.C }, () => rng.normal());
    const w = Float32Array.from({ length: s.KH * s.KW * s.C }, () => rng.normal());
    const dy = Float32Array.from({ length: s.N * s.Ho * s.Wo * s.C }, () => rng.normal());
    const ref = reference(x, w, dy, s);
    const dW = new Float32Array(s.KH * s.KW * s.C).fill(Number.NaN);
    depthwiseFilterGradSimd(x, dy, s, dW);
    assertClose(dW, ref.dW, 'dW');
    // The output is zeroed by the kernel: a stale value left in it would show.
    const dx = new Float32Array(s.N * s.H * s.W * s.C).fill(Number.NaN);
    depthwiseInputGradSimd(w, dy, s, dx);
    assertClose(dx, ref.dx, 'dx');
    // Second calls on the same module (its memory already grown and dirty) give the same bits.
    const again = new Float32Array(dW.length);
    depthwiseFilterGradSimd(x, dy, s, again);
    assert.deepEqual(again, dW);
    const againX = new Float32Array(dx.length);
    depthwiseInputGradSimd(w, dy, s, againX);
    assert.deepEqual(againX, dx);
  });
}

test('it declines what it cannot compute, and says why when called anyway', () => {
  assert.equal(simdDepthwiseGradsFit(16, 1), true, 'Node 20 has WebAssembly SIMD');
  assert.equal(simdDepthwiseGradsFit(3, 1), false, 'channels not a multiple of 4');
  assert.equal(simdDepthwiseGradsFit(16, 2), false, 'channel multiplier 2');
  // A 224x224x32 layer at batch 64 would pin over 800 MB in the module: left to the composed kernels.
  const big = {
    N: 64,
    H: 224,
    W: 224,
    C: 32,
    Ho: 224,
    Wo: 224,
    strideH: 1,
    strideW: 1,
    padTop: 1,
    padLeft: 1,
    KH: 3,
    KW: 3,
  };
  assert.ok(simdDepthwiseBytes(big) > SIMD_MAX_BYTES);
  assert.equal(simdDepthwiseGradsFit(32, 1, simdDepthwiseBytes(big)), false, 'over the memory cap');
  assert.equal(
    simdDepthwiseGradsFit(8, 1, simdDepthwiseBytes({ ...big, N: 64, H: 14, W: 14, C: 8, Ho: 14, Wo: 14 })),
    true,
    'MobileNet-tiny at batch 64',
  );
  const s = { N: 1, H: 4, W: 4, C: 3, Ho: 4, Wo: 4, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, KH: 3, KW: 3 };
  assert.throws(
    () => depthwiseFilterGradSimd(new Float32Array(48), new Float32Array(48), s, new Float32Array(27)),
    /multiple of 4/,
  );
  assert.throws(
    () => depthwiseFilterGradSimd(new Float32Array(10), new Float32Array(64), { ...s, C: 4 }, new Float32Array(36)),
    /sizes .* do not match/,
  );
  assert.throws(
    () => depthwiseInputGradSimd(new Float32Array(36), new Float32Array(64), { ...s, C: 4 }, new Float32Array(10)),
    /input gradient sizes .* do not match/,
  );
});
