import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {
  BACKEND_ENV_VAR,
  BACKEND_ORDER,
  describeBackend,
  initBackend,
  releaseBackend,
} from '../../src-main/backends/select-backend.ts';
import { recipeSchema } from '../../src-main/recipe/recipe-schema.ts';

const req = createRequire(import.meta.url);
function installed(pkg: string): boolean {
  try {
    req.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}
const nativeInstalled = installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node');
const webgpuInstalled = installed('webgpu');
/** What the webgpu attempt says on a machine without a GPU, with or without the optional package. */
const NO_WEBGPU = webgpuInstalled
  ? /^(no WebGPU adapter \(Dawn found no GPU with a usable Vulkan, Metal or D3D12 driver\)|no Vulkan loader \(libvulkan\.so\.1\) on this machine, which Dawn needs on Linux .*)$/
  : /^not installed \(optional package 'webgpu'\)$/;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** navigator.gpu and the WebGPU constants must not be left on globalThis by a failed attempt. */
function assertNoWebGpuGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  assert.equal((g.navigator as { gpu?: unknown } | undefined)?.gpu, undefined);
  assert.equal(g.GPUBufferUsage, undefined);
  assert.equal(g.GPUMapMode, undefined);
  assert.equal(tf.findBackendFactory('webgpu'), null);
}

describe('initBackend', () => {
  let savedEnv: string | undefined;
  before(() => {
    savedEnv = process.env[BACKEND_ENV_VAR];
    delete process.env[BACKEND_ENV_VAR];
  });
  after(() => {
    if (savedEnv === undefined) delete process.env[BACKEND_ENV_VAR];
    else process.env[BACKEND_ENV_VAR] = savedEnv;
  });

  test('the order tries both GPU paths first, and a recipe accepts every key', () => {
    assert.deepEqual(BACKEND_ORDER, ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu']);
    const field = recipeSchema.shape.backend;
    for (const key of ['auto', ...BACKEND_ORDER]) assert.equal(field.parse(key), key);
    assert.equal(field.safeParse('gpu').success, false);
  });

  test(
    'default picks wasm here and records why the native packages and WebGPU were skipped',
    { skip: nativeInstalled ? 'a tfjs-node package is installed on this machine' : false },
    async (t) => {
      const c = await initBackend();
      if (c.attempts[1]?.ok) {
        t.skip(`this machine has a WebGPU adapter (${describeBackend(c)})`);
        releaseBackend();
        return;
      }
      assert.equal(c.key, 'wasm');
      assert.equal(c.tfBackend, 'wasm');
      assert.equal(tf.getBackend(), 'wasm');
      assert.equal(typeof c.simd, 'boolean');
      assert.equal(c.gpu, undefined);
      assert.equal(c.tfjsVersion, tf.version.tfjs);
      assert.deepEqual(
        c.attempts.map((a) => [a.key, a.ok]),
        [
          ['tfjs-node-gpu', false],
          ['webgpu', false],
          ['tfjs-node', false],
          ['wasm', true],
        ],
      );
      assert.equal(c.attempts[0].reason, 'not installed');
      assert.match(c.attempts[1].reason, NO_WEBGPU);
      assert.equal(c.attempts[2].reason, 'not installed');
      const line = describeBackend(c);
      assert.match(
        line,
        /^backend wasm \((no )?SIMD\) — tfjs-node-gpu: not installed; webgpu: (no WebGPU adapter \(.+\)|no Vulkan loader .+|not installed \(.+\)); tfjs-node: not installed$/,
      );
      // The gradient kernels come with the wasm backend.
      assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
      assertNoWebGpuGlobals();
    },
  );

  test(
    'forcing webgpu without an adapter throws a clear error and changes nothing',
    { skip: nativeInstalled ? 'a tfjs-node package is installed on this machine' : false },
    async () => {
      await tf.setBackend('cpu');
      // Twice: the second answer comes from the first probe and must read the same.
      for (let i = 0; i < 2; i++) {
        await assert.rejects(initBackend({ force: 'webgpu' }), (err: Error) => {
          assert.match(err.message, /^Backend 'webgpu' was forced by option force but could not be loaded: /);
          assert.match(err.message.replace(/^.*could not be loaded: /, ''), NO_WEBGPU);
          return true;
        });
      }
      assert.equal(tf.getBackend(), 'cpu');
      assertNoWebGpuGlobals();
      releaseBackend();
    },
  );

  test('a process that probed WebGPU and found no adapter exits by itself', () => {
    // No process.exit: the child must end because nothing keeps its event loop alive.
    const code = [
      "const { initBackend, describeBackend } = await import('./src-main/backends/select-backend.ts');",
      'const c = await initBackend();',
      "const forced = await initBackend({ force: 'webgpu' }).then(() => 'loaded', (e) => e.message);",
      'console.log(JSON.stringify({ line: describeBackend(c), forced }));',
    ].join('\n');
    const env = { ...process.env };
    delete env[BACKEND_ENV_VAR];
    // A machine without a Vulkan loader never starts Dawn; a file under the loader's name (not a
    // library) makes the check pass, so Dawn does start, fails to load it and finds no adapter.
    const fakeLoaderDir = mkdtempSync(path.join(os.tmpdir(), 'fake-vulkan-'));
    writeFileSync(path.join(fakeLoaderDir, 'libvulkan.so.1'), '');
    env.LD_LIBRARY_PATH = [env.LD_LIBRARY_PATH, fakeLoaderDir].filter(Boolean).join(':');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    rmSync(fakeLoaderDir, { recursive: true, force: true });
    assert.equal(r.signal, null, `the child did not exit by itself within 60 s; stderr: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { line: string; forced: string };
    if (out.forced === 'loaded') return; // a machine with a WebGPU adapter: nothing more to check here
    assert.match(out.line, /webgpu: (no WebGPU adapter|not installed)/);
    assert.match(
      out.forced,
      /^Backend 'webgpu' was forced by option force but could not be loaded: (no WebGPU adapter|not installed)/,
    );
  });

  test('force cpu', async () => {
    const c = await initBackend({ force: 'cpu' });
    assert.equal(c.key, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.deepEqual(
      c.attempts.map((a) => a.key),
      ['cpu'],
    );
    assert.equal(c.simd, undefined);
    assert.match(describeBackend(c), /^backend cpu — forced by option force$/);
  });

  test('forcing wasm twice works (wasm paths are set only before first init)', async () => {
    assert.equal((await initBackend({ force: 'wasm' })).key, 'wasm');
    assert.equal((await initBackend({ force: 'wasm' })).key, 'wasm');
  });

  test(
    'forcing an unavailable tfjs-node throws instead of falling back',
    { skip: installed('@tensorflow/tfjs-node') ? 'tfjs-node is installed here' : false },
    async () => {
      await tf.setBackend('cpu');
      await assert.rejects(initBackend({ force: 'tfjs-node' }), (err: Error) => {
        assert.match(err.message, /'tfjs-node'/);
        assert.match(err.message, /not installed/);
        return true;
      });
      assert.equal(tf.getBackend(), 'cpu');
    },
  );

  test(`${BACKEND_ENV_VAR} forces a backend, the option overrides it, and bad values are rejected`, async (t) => {
    t.after(() => {
      delete process.env[BACKEND_ENV_VAR];
    });
    process.env[BACKEND_ENV_VAR] = 'cpu';
    const c = await initBackend();
    assert.equal(c.key, 'cpu');
    assert.match(c.reason, new RegExp(`${BACKEND_ENV_VAR}=cpu`));
    assert.equal((await initBackend({ force: 'wasm' })).key, 'wasm');
    process.env[BACKEND_ENV_VAR] = 'gpu-please';
    await assert.rejects(initBackend(), new RegExp(`${BACKEND_ENV_VAR}='gpu-please'`));
    if (!installed('@tensorflow/tfjs-node-gpu')) {
      process.env[BACKEND_ENV_VAR] = 'tfjs-node-gpu';
      await assert.rejects(
        initBackend(),
        /'tfjs-node-gpu' was forced by DISTILL_BACKEND=tfjs-node-gpu but could not be loaded: not installed/,
      );
    }
    process.env[BACKEND_ENV_VAR] = 'webgpu';
    const viaEnv = await initBackend().then(
      (c) => c,
      (err: Error) => err,
    );
    if (viaEnv instanceof Error) {
      assert.match(
        viaEnv.message,
        /'webgpu' was forced by DISTILL_BACKEND=webgpu but could not be loaded: (no WebGPU adapter|no Vulkan loader|not installed)/,
      );
    } else {
      assert.equal(viaEnv.key, 'webgpu');
      releaseBackend();
    }
  });
});
