/**
 * fs-bbt's options beyond the paper. Augmented views (`views`): the warp's arithmetic on hand-made
 * images, the pool's shape and source balance, and the plan. The teacher assistant (`assistant`):
 * its key is checked and it costs no queries. Both run end to end in method-smoke.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeViewPool, randomAffine, warpInto, type Affine } from '../../src-main/methods/views.ts';
import { Rng } from '../../src-main/util/rng.ts';

const dims = { height: 5, width: 5, channels: 1 };
const img = Float32Array.from({ length: 25 }, (_, i) => i + 1);

test('warp: the identity map copies the image; a shift of one pixel moves it and fills with 0', () => {
  const out = new Float32Array(25);
  warpInto(out, img, dims, [1, 0, 0, 0, 1, 0]);
  assert.deepEqual(Array.from(out), Array.from(img));
  // Output (x, y) reads source (x − 1, y): column 0 falls outside.
  warpInto(out, img, dims, [1, 0, -1, 0, 1, 0]);
  for (let y = 0; y < 5; y++) {
    assert.equal(out[y * 5], 0);
    for (let x = 1; x < 5; x++) assert.equal(out[y * 5 + x], img[y * 5 + x - 1]);
  }
});

test('warp: half-pixel positions interpolate bilinearly', () => {
  const out = new Float32Array(25);
  // sx = x + 0.5, sy = y + 0.5: pixel (0, 0) averages source (0,0), (1,0), (0,1), (1,1) = (1 + 2 + 6 + 7) / 4.
  warpInto(out, img, dims, [1, 0, 0.5, 0, 1, 0.5]);
  assert.equal(out[0], 4);
  // Bottom-right reads (4.5, 4.5): only (4, 4) = 25 is inside, weighted 1/4.
  assert.equal(out[24], 25 / 4);
});

test('randomAffine with nothing allowed is the identity; a flip mirrors about the centre', () => {
  const none = { rotate: 0, scale: 0, shear: 0, translate: 0, flip: 0 };
  const m = randomAffine(dims, new Rng(1), none);
  const want: Affine = [1, 0, 0, 0, 1, 0];
  m.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `${m} vs ${want}`));
  const f = randomAffine(dims, new Rng(1), { ...none, flip: 1 });
  const out = new Float32Array(25);
  warpInto(out, img, dims, f);
  for (let y = 0; y < 5; y++)
    for (let x = 0; x < 5; x++) assert.ok(Math.abs(out[y * 5 + x] - img[y * 5 + 4 - x]) < 1e-5);
});

test('randomAffine stays within its bounds: the centre moves at most the translation, the area at most the scale', () => {
  const rng = new Rng(5);
  for (let i = 0; i < 50; i++) {
    const m = randomAffine({ height: 28, width: 28 }, rng, { rotate: 10, scale: 0.1, shear: 5, translate: 2, flip: 0 });
    // The source position of the output centre is M⁻¹·(−t) + c: within |t|·‖M⁻¹‖ of the centre.
    const sx = m[0] * 13.5 + m[1] * 13.5 + m[2];
    const sy = m[3] * 13.5 + m[4] * 13.5 + m[5];
    assert.ok(Math.hypot(sx - 13.5, sy - 13.5) < (2 * Math.SQRT2) / 0.85, `${sx}, ${sy}`);
    // Determinant of M⁻¹ is 1/(s²): between 1/1.21 and 1/0.81.
    const det = m[0] * m[4] - m[1] * m[3];
    assert.ok(det > 1 / 1.21 - 1e-9 && det < 1 / 0.81 + 1e-9, `det ${det}`);
  }
});

test('view pool: wanted views, sources spread evenly, each view differs from its source but keeps its mass', () => {
  const per = 28 * 28;
  const n = 7;
  const images = new Float32Array(n * per);
  // A filled square in the middle of each image, brightness by image.
  for (let k = 0; k < n; k++)
    for (let y = 9; y < 19; y++) for (let x = 9; x < 19; x++) images[k * per + y * 28 + x] = (k + 1) / n;
  const pool = makeViewPool(images, n, { height: 28, width: 28, channels: 1 }, 30, new Rng(2));
  assert.equal(pool.count, 30);
  assert.equal(pool.images.length, 30 * per);
  const uses = new Array(n).fill(0);
  pool.sources.forEach((s) => uses[s]++);
  assert.ok(Math.max(...uses) - Math.min(...uses) <= 1, `uses ${uses}`);
  for (let v = 0; v < pool.count; v++) {
    const s = pool.sources[v];
    const view = pool.images.subarray(v * per, (v + 1) * per);
    const src = images.subarray(s * per, (s + 1) * per);
    let diff = 0;
    let massV = 0;
    let massS = 0;
    for (let i = 0; i < per; i++) {
      diff += Math.abs(view[i] - src[i]);
      massV += view[i];
      massS += src[i];
    }
    assert.ok(diff > 0, `view ${v} equals its source`);
    // Area scales by s² ∈ [0.77, 1.25] for the default 12 % scale; the square never leaves the frame.
    assert.ok(massV / massS > 0.7 && massV / massS < 1.3, `mass ratio ${massV / massS}`);
    // Brightness comes from the source only: no pixel exceeds it.
    assert.ok(Math.max(...view) <= (s + 1) / n + 1e-6);
  }
  // Same seed, same pool.
  const again = makeViewPool(images, n, { height: 28, width: 28, channels: 1 }, 30, new Rng(2));
  assert.deepEqual(again.sources, pool.sources);
  assert.deepEqual(again.images, pool.images);
});

test('fs-bbt plans its views: the share of the synthetic queries, the rest MixUp and CVAE, same total', async () => {
  const { fsBbt } = await import('../../src-main/methods/fs-bbt.ts');
  const base = { localCount: 2000, responseKind: 'probabilities' as const, budget: 20000 };
  const plain = fsBbt.plan({ ...base, kwargs: {} });
  assert.deepEqual(
    plain.items.map((i) => i.queries),
    [2000, 18000],
  );
  const half = fsBbt.plan({ ...base, kwargs: { views: 0.5 } });
  assert.equal(half.total, 20000);
  assert.deepEqual(
    half.items.map((i) => [i.purpose, i.queries]),
    [
      ['label the local images (CVAE conditions and real targets)', 2000],
      ['label augmented views of the local images', 9000],
      ['label the MixUp pool and CVAE samples', 9000],
    ],
  );
  assert.ok(half.notes.some((n) => n.includes('9000 of the 18000 synthetic queries are augmented views')));
  const all = fsBbt.plan({ ...base, kwargs: { views: 1 } });
  assert.deepEqual(
    all.items.map((i) => i.queries),
    [2000, 18000],
  );
  assert.equal(all.items[1].purpose, 'label augmented views of the local images');
  assert.throws(() => fsBbt.plan({ ...base, kwargs: { views: 1.5 } }));
});

test('fs-bbt plans a teacher assistant at no query cost, and refuses a key outside the zoo', async () => {
  const { fsBbt } = await import('../../src-main/methods/fs-bbt.ts');
  const base = { localCount: 2000, responseKind: 'probabilities' as const, budget: 20000 };
  const p = fsBbt.plan({ ...base, kwargs: { assistant: 'lenet5', assistantPool: 30000 } });
  assert.equal(p.total, 20000);
  assert.ok(
    p.notes.some(
      (n) =>
        n ===
        'A lenet5 assistant trained on the teacher-labelled set labels 30000 more MixUp images for the student at no query cost.',
    ),
    p.notes.join('\n'),
  );
  const bad = fsBbt.kwargs.safeParse({ assistant: 'resnet50' });
  assert.equal(bad.success, false);
  assert.match(bad.error!.issues[0].message, /not a zoo student/);
});
