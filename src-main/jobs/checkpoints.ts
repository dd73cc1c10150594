/**
 * Per-epoch checkpoints: student weights, optimizer moments and sampler/RNG state. Each is written
 * to a temporary folder and renamed into place, so a kill or a full disk never damages the last
 * good one; the store row is written only after the rename.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { saveModel, loadModel } from '../students/model-io.ts';
import type { TrainState } from '../training/trainer.ts';
import type { Store, CheckpointRow } from '../store/store.ts';
import { DistillError } from '../util/errors.ts';

export class DiskFullError extends DistillError {
  override name = 'DiskFullError';
  readonly code = 'disk-full';
}

export interface CheckpointPolicy {
  /** How many of the newest checkpoints to keep besides the best one (default 2). */
  keepLast: number;
}

export async function writeCheckpoint(
  dir: string,
  epoch: number,
  model: tf.LayersModel,
  state: TrainState,
  lastGood?: number,
): Promise<{ path: string; bytes: number }> {
  const final = path.join(dir, `epoch-${String(epoch).padStart(4, '0')}`);
  const tmp = `${final}.tmp`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await saveModel(model, path.join(tmp, 'student'));
    const blobs = Buffer.concat(
      state.optimizer.map((w) => Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength)),
    );
    writeFileSync(path.join(tmp, 'optimizer.bin'), blobs);
    const meta = {
      epoch: state.epoch,
      rngState: state.rngState,
      optimizer: state.optimizer.map((w) => ({ name: w.name, shape: w.shape })),
    };
    writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(meta));
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new DiskFullError(
        `disk full while writing the checkpoint for epoch ${epoch} in ${dir}; ` +
          (lastGood
            ? `the last good checkpoint (epoch ${lastGood}) is intact and \`distill resume\` continues from it`
            : 'no earlier checkpoint exists') +
          '. Free some space, then resume.',
      );
    }
    throw err;
  }
  return { path: final, bytes: folderBytes(final) };
}

/** Loads a checkpoint into `model` (same architecture) and returns the training state. */
export async function readCheckpoint(dir: string, model: tf.LayersModel): Promise<TrainState> {
  const loaded = await loadModel(path.join(dir, 'student'));
  model.setWeights(loaded.getWeights());
  loaded.dispose();
  const meta = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as {
    epoch: number;
    rngState: number;
    optimizer: { name: string; shape: number[] }[];
  };
  const bin = readFileSync(path.join(dir, 'optimizer.bin'));
  const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  let offset = 0;
  const optimizer = meta.optimizer.map((w) => {
    const size = w.shape.reduce((a, b) => a * b, 1);
    const values = all.slice(offset, offset + size);
    offset += size;
    return { ...w, values };
  });
  if (offset !== all.length) throw new Error(`${dir}: optimizer state has ${all.length} values, expected ${offset}`);
  return { epoch: meta.epoch, rngState: meta.rngState, optimizer };
}

/** The newest checkpoint that is both recorded in the store and complete on disk. */
export function latestCheckpoint(store: Store, runId: string): CheckpointRow | undefined {
  return store
    .checkpoints(runId)
    .filter((c) => existsSync(path.join(c.path, 'state.json')))
    .at(-1);
}

/** Keeps the newest `keepLast` checkpoints and the best-scoring one; deletes the rest and stray temporaries. */
export function pruneCheckpoints(store: Store, runId: string, dir: string, policy: CheckpointPolicy): void {
  const rows = store.checkpoints(runId);
  const keep = new Set(rows.slice(-policy.keepLast).map((c) => c.epoch));
  const scored = rows.filter((c) => c.score !== null);
  if (scored.length) keep.add(scored.reduce((a, b) => ((b.score ?? -Infinity) > (a.score ?? -Infinity) ? b : a)).epoch);
  for (const c of rows) {
    if (keep.has(c.epoch)) continue;
    store.removeCheckpoint(runId, c.epoch);
    rmSync(c.path, { recursive: true, force: true });
  }
  if (existsSync(dir)) {
    for (const name of readdirSync(dir))
      if (name.endsWith('.tmp')) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const st = statSync(path.join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}
