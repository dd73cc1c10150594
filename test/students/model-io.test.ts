import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getStudent } from '../../src-main/students/index.ts';
import { saveModel, loadModel } from '../../src-main/students/model-io.ts';

before(async () => {
  await tf.setBackend('cpu');
});

test('a saved student loads back with identical predictions, and no temporary files remain', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'model-io-'));
  for (const key of ['lenet5-half', 'resnet8']) {
    const model = getStudent(key).build({ inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 9);
    const before = (model.predict(x) as tf.Tensor).dataSync();
    await saveModel(model, path.join(dir, key));
    const loaded = await loadModel(path.join(dir, key));
    const after = (loaded.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual([...after], [...before]);
    assert.deepEqual(readdirSync(path.join(dir, key)).sort(), ['model.json', 'weights.bin']);
  }
  await assert.rejects(loadModel(path.join(dir, 'nothing')), /nothing\/model.json: cannot read saved student/);
});
