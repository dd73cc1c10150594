/** Shared by the export tests: realistic BN statistics, the ONNX checker, image sets. */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src-main/util/rng.ts';

import { DEBIAN_PYTHON, requireSystemDep } from '../../scripts/system-deps.mjs';

export const PYTHON = DEBIAN_PYTHON;

/**
 * Fresh BN layers are the identity (gamma 1, beta 0, mean 0, var 1), which would let a wrong fold
 * or a wrong quantization scale pass; random statistics make every term matter.
 */
export function randomizeBatchNorm(model: tf.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const values = layer.weights.map((w) => {
      const n = w.shape[0] as number;
      const name = w.originalName;
      return tf.tensor1d(
        Float32Array.from({ length: n }, () =>
          name.endsWith('gamma')
            ? 0.5 + rng.next()
            : name.endsWith('moving_variance')
              ? 0.3 + 1.5 * rng.next()
              : 0.5 * rng.normal(),
        ),
      );
    });
    layer.setWeights(values);
    values.forEach((v) => v.dispose());
  }
}

/** onnx.checker with full_check (strict shape and type inference); python3-onnx must be installed. */
export function checkWithOnnxChecker(file: string): void {
  requireSystemDep('python3-onnx');
  const r = spawnSync(
    PYTHON,
    ['-c', 'import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)', file],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `onnx.checker rejected ${file}:\n${r.stderr}`);
}
