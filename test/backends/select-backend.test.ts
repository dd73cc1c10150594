import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ENV_VAR, describeBackend, initBackend } from '../../src-main/backends/select-backend.ts';

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

  test('default picks wasm here and records why both native packages were skipped',
    { skip: nativeInstalled ? 'a tfjs-node package is installed on this machine' : false }, async () => {
      const c = await initBackend();
      assert.equal(c.key, 'wasm');
      assert.equal(c.tfBackend, 'wasm');
      assert.equal(tf.getBackend(), 'wasm');
      assert.equal(typeof c.simd, 'boolean');
      assert.equal(c.tfjsVersion, tf.version.tfjs);
      assert.deepEqual(c.attempts.map((a) => [a.key, a.ok, a.reason]), [
        ['tfjs-node-gpu', false, 'not installed'],
        ['tfjs-node', false, 'not installed'],
        ['wasm', true, c.attempts[2].reason],
      ]);
      const line = describeBackend(c);
      assert.match(line, /^backend wasm \((no )?SIMD\) — tfjs-node-gpu: not installed; tfjs-node: not installed$/);
      // The gradient kernels come with the wasm backend.
      assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
    });

  test('force cpu', async () => {
    const c = await initBackend({ force: 'cpu' });
    assert.equal(c.key, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.deepEqual(c.attempts.map((a) => a.key), ['cpu']);
    assert.equal(c.simd, undefined);
    assert.match(describeBackend(c), /^backend cpu — forced by option force$/);
  });

  test('forcing wasm twice works (wasm paths are set only before first init)', async () => {
    assert.equal((await initBackend({ force: 'wasm' })).key, 'wasm');
    assert.equal((await initBackend({ force: 'wasm' })).key, 'wasm');
  });

  test('forcing an unavailable tfjs-node throws instead of falling back',
    { skip: installed('@tensorflow/tfjs-node') ? 'tfjs-node is installed here' : false }, async () => {
      await tf.setBackend('cpu');
      await assert.rejects(initBackend({ force: 'tfjs-node' }), (err: Error) => {
        assert.match(err.message, /'tfjs-node'/);
        assert.match(err.message, /not installed/);
        return true;
      });
      assert.equal(tf.getBackend(), 'cpu');
    });

  test(`${BACKEND_ENV_VAR} forces a backend, the option overrides it, and bad values are rejected`, async (t) => {
    t.after(() => { delete process.env[BACKEND_ENV_VAR]; });
    process.env[BACKEND_ENV_VAR] = 'cpu';
    const c = await initBackend();
    assert.equal(c.key, 'cpu');
    assert.match(c.reason, new RegExp(`${BACKEND_ENV_VAR}=cpu`));
    assert.equal((await initBackend({ force: 'wasm' })).key, 'wasm');
    process.env[BACKEND_ENV_VAR] = 'gpu-please';
    await assert.rejects(initBackend(), new RegExp(`${BACKEND_ENV_VAR}='gpu-please'`));
    if (!installed('@tensorflow/tfjs-node-gpu')) {
      process.env[BACKEND_ENV_VAR] = 'tfjs-node-gpu';
      await assert.rejects(initBackend(), /'tfjs-node-gpu' was forced by DISTILL_BACKEND=tfjs-node-gpu but could not be loaded: not installed/);
    }
  });
});
