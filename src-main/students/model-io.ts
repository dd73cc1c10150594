/**
 * Saves and loads a tfjs student as model.json + weights.bin in a folder, without tfjs-node's
 * file:// handler (not installed on every machine). Writes go to temporary names first and are
 * renamed into place, so a crash never leaves a half-written model behind.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData
        ? Buffer.from(tf.io.CompositeArrayBuffer.join(artifacts.weightData))
        : Buffer.alloc(0);
      const manifest = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileSync(path.join(dir, 'weights.bin.tmp'), weights);
      writeFileSync(path.join(dir, 'model.json.tmp'), JSON.stringify(manifest));
      renameSync(path.join(dir, 'weights.bin.tmp'), path.join(dir, 'weights.bin'));
      renameSync(path.join(dir, 'model.json.tmp'), path.join(dir, 'model.json'));
      return {
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.length },
      };
    }),
  );
}

export async function loadModel(dir: string): Promise<tf.LayersModel> {
  let manifest: { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
  } catch (err) {
    throw new Error(`${path.join(dir, 'model.json')}: cannot read saved student: ${(err as Error).message}`);
  }
  const bin = readFileSync(path.join(dir, 'weights.bin'));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: manifest.modelTopology,
      weightSpecs: manifest.weightsManifest[0].weights,
      weightData,
    }),
  );
}
