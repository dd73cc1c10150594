/**
 * The WebGPU path without a GPU: a stand-in navigator.gpu drives the adapter cases Dawn cannot
 * produce here (none, software only, a device that cannot be created), and the kernels the zoo's
 * training dispatches are checked against what @tensorflow/tfjs-backend-webgpu registers.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { describeBackend, initBackend, releaseBackend } from '../../src-main/backends/select-backend.ts';
import { describeGpu, vulkanLoaderPresent } from '../../src-main/backends/webgpu-backend.ts';
import { listStudents } from '../../src-main/students/index.ts';
import { kdKlLoss, labelSmoothedSoftCrossEntropy, softCrossEntropy } from '../../src-main/methods/losses.ts';
import { createAdam } from '../../src-main/training/optimizer.ts';

const g = globalThis as Record<string, unknown>;

interface FakeAdapter {
  info: Record<string, unknown>;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(): Promise<never>;
}

function fakeAdapter(info: Record<string, unknown>, deviceError = 'fake device refused'): FakeAdapter {
  return {
    info,
    features: new Set(),
    limits: { maxBufferSize: 1 << 28 },
    requestDevice: () => Promise.reject(new Error(deviceError)),
  };
}

/** Puts a host navigator.gpu in place (Node 20 has no navigator; Node ≥ 21 has one). */
function hostGpu(requestAdapter: () => Promise<FakeAdapter | null>): void {
  const gpu = { requestAdapter };
  if (g.navigator == null)
    Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
}

describe('webgpu with a host navigator.gpu', () => {
  const hadNavigator = g.navigator != null;
  afterEach(() => {
    releaseBackend();
    if (hadNavigator) delete (g.navigator as Record<string, unknown>).gpu;
    else delete g.navigator;
  });

  test('no adapter: skipped in auto selection, an error when forced', async () => {
    hostGpu(async () => null);
    await tf.setBackend('cpu');
    await assert.rejects(
      initBackend({ force: 'webgpu' }),
      /'webgpu' was forced by option force but could not be loaded: no WebGPU adapter \(navigator.gpu returned none\)$/,
    );
    assert.equal(tf.getBackend(), 'cpu');
    const c = await initBackend();
    const w = c.attempts.find((a) => a.key === 'webgpu');
    assert.deepEqual(w, { key: 'webgpu', ok: false, reason: 'no WebGPU adapter (navigator.gpu returned none)' });
    assert.notEqual(c.key, 'webgpu');
  });

  test('requestAdapter throwing is a failed attempt, not a crash', async () => {
    hostGpu(() => Promise.reject(new Error('adapter exploded\nsecond line')));
    await assert.rejects(
      initBackend({ force: 'webgpu' }),
      /could not be loaded: no WebGPU adapter \(requestAdapter threw: adapter exploded\)$/,
    );
  });

  test('a software adapter is skipped unless webgpu is forced, and its info is reported', async () => {
    const info = {
      vendor: 'google',
      architecture: 'swiftshader',
      device: '',
      description: 'SwiftShader Device (Subzero)',
      isFallbackAdapter: true,
    };
    hostGpu(async () => fakeAdapter(info));
    const c = await initBackend();
    const w = c.attempts.find((a) => a.key === 'webgpu');
    assert.equal(w?.ok, false);
    assert.equal(
      w?.reason,
      'only a software WebGPU adapter (google swiftshader, SwiftShader Device (Subzero), software adapter); force webgpu to use it anyway',
    );
    // Forced, the software adapter is taken; here its device cannot be created, and that is the error.
    await assert.rejects(initBackend({ force: 'webgpu' }), /requesting a device failed: fake device refused$/);
  });

  test('an adapter whose device cannot be created: clear error, previous backend kept, no factory left behind', async () => {
    hostGpu(async () =>
      fakeAdapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' }, 'out of luck'),
    );
    await tf.setBackend('cpu');
    await assert.rejects(initBackend({ force: 'webgpu' }), (err: Error) => {
      assert.equal(
        err.message,
        "Backend 'webgpu' was forced by option force but could not be loaded: " +
          'WebGPU adapter nvidia hopper, NVIDIA H100 80GB HBM3 found, but requesting a device failed: out of luck',
      );
      return true;
    });
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal(tf.findBackendFactory('webgpu'), null);
    // In auto selection the same adapter is a failed attempt and selection moves on.
    const c = await initBackend();
    assert.match(c.attempts.find((a) => a.key === 'webgpu')!.reason, /requesting a device failed: out of luck$/);
    assert.notEqual(c.key, 'webgpu');
    assert.equal(tf.findBackendFactory('webgpu'), null);
  });
});

test('describeGpu and describeBackend name the GPU', () => {
  assert.equal(
    describeGpu({ api: 'webgpu', vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100' }),
    'nvidia hopper, NVIDIA H100',
  );
  assert.equal(describeGpu({ api: 'webgpu', vendor: 'apple', device: 'M2' }), 'apple, M2');
  assert.equal(describeGpu({ api: 'webgpu' }), 'unnamed adapter');
  assert.equal(describeGpu({ api: 'cuda' }), 'CUDA GPU');
  const line = describeBackend({
    key: 'webgpu',
    tfBackend: 'webgpu',
    reason: 'first loadable',
    tfjsVersion: tf.version.tfjs,
    attempts: [
      { key: 'tfjs-node-gpu', ok: false, reason: 'not installed' },
      { key: 'webgpu', ok: true, reason: 'WebGPU adapter nvidia hopper' },
    ],
    gpu: { api: 'webgpu', vendor: 'nvidia', architecture: 'hopper' },
  });
  assert.equal(line, 'backend webgpu (nvidia hopper) — tfjs-node-gpu: not installed');
});

/**
 * Training a student on webgpu needs every kernel a training step dispatches. The step runs on
 * the cpu backend, which takes the same (non-wasm) code paths as webgpu does, with every kernel
 * call recorded.
 */
test('every kernel a zoo training step and evaluation dispatch is registered for webgpu', async () => {
  await initBackend({ force: 'cpu' });
  const seen = new Set<string>();
  const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
  const original = engine.runKernel;
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    seen.add(name);
    return original.call(this, name, ...rest);
  };
  try {
    // Small images keep this quick on the cpu backend; every student accepts 16x16.
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d([3, 7], 'int32'), 10).toFloat() as tf.Tensor2D;
    const losses = [
      (l: tf.Tensor2D) => softCrossEntropy(l, y),
      (l: tf.Tensor2D) => kdKlLoss(l, y, 4),
      (l: tf.Tensor2D) => labelSmoothedSoftCrossEntropy(l, y, 0.1),
    ];
    const students = listStudents();
    assert.ok(students.length >= 5);
    for (const { key, build } of students) {
      const model = build({ inputShape: [16, 16, 1], numClasses: 10, seed: 1 });
      const opt = createAdam(1e-3);
      for (const loss of losses) {
        const l = opt.minimize(() => loss(model.apply(x, { training: true }) as tf.Tensor2D), true) as tf.Scalar;
        assert.ok(Number.isFinite((await l.data())[0]), `${key}: finite loss`);
        l.dispose();
      }
      tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor2D, 1).dataSync());
      opt.dispose();
      model.dispose();
    }
    x.dispose();
    y.dispose();
  } finally {
    engine.runKernel = original;
  }
  // The recording really saw a training step (convolution gradients, batch norm, Adam).
  for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'Sqrt'])
    assert.ok(seen.has(k), `recorded ${k}`);
  const missing = [...seen].filter((k) => tf.getKernel(k, 'webgpu') == null).sort();
  assert.deepEqual(missing, [], `kernels without a webgpu implementation: ${missing.join(', ')}`);
});

describe('the Vulkan loader check before Dawn starts', () => {
  const lookup = (files: string[], opts: { env?: NodeJS.ProcessEnv; cache?: string } = {}) => ({
    env: opts.env ?? {},
    exists: (f: string) => files.includes(f),
    ldCache: () => (opts.cache == null ? undefined : new TextEncoder().encode(opts.cache)),
  });

  test('found through LD_LIBRARY_PATH, the ld.so cache or a default directory', () => {
    assert.equal(
      vulkanLoaderPresent(lookup(['/opt/vk/lib/libvulkan.so.1'], { env: { LD_LIBRARY_PATH: '/x:/opt/vk/lib' } })),
      true,
    );
    assert.equal(
      vulkanLoaderPresent(
        lookup([], { cache: 'ld.so-1.7.0\0libc.so.6\0libvulkan.so.1\0/usr/lib/x86_64-linux-gnu/libvulkan.so.1' }),
      ),
      true,
    );
    assert.equal(vulkanLoaderPresent(lookup(['/usr/lib/x86_64-linux-gnu/libvulkan.so.1'])), true);
  });

  test('absent everywhere, or present only under another name', () => {
    assert.equal(
      vulkanLoaderPresent(lookup([], { env: { LD_LIBRARY_PATH: '/opt/vk/lib' }, cache: 'libc.so.6\0libvulkan.so\0' })),
      false,
    );
    assert.equal(vulkanLoaderPresent(lookup(['/usr/lib/libvulkan.so'])), false);
  });
});
