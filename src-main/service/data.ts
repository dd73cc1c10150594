/** The wizard's Data step: a preview of a local image source, and how its choices name data in a recipe. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from '../api/contract.ts';
import { resolveSource } from '../recipe/resolve-source.ts';
import { loadDataset } from '../data/load-dataset.ts';
import { tryFindIdxPair } from '../data/idx.ts';
import type { ImageSet } from '../data/image-set.ts';
import type { DataSourceSpec } from '../recipe/recipe-schema.ts';
import type { ApiHandlers } from './context.ts';

export function dataHandlers(): Pick<ApiHandlers, 'data:inspect'> {
  return {
    'data:inspect': async ({ source, samples }) => {
      const set = loadDataset(resolveSource(trainSpec(source), '/').spec);
      const histogram: number[] = [];
      if (set.labels) for (const l of set.labels) if (l >= 0) histogram[l] = (histogram[l] ?? 0) + 1;
      const step = Math.max(1, Math.floor(set.count / Math.max(1, samples)));
      const picks = Array.from({ length: Math.min(samples, set.count) }, (_, i) => i * step);
      return {
        source: set.source,
        count: set.count,
        height: set.height,
        width: set.width,
        channels: set.channels,
        classNames: set.classNames ?? null,
        histogram: Array.from(histogram, (v) => v ?? 0),
        samples: picks.map((i) => ({ pixels: imageBase64(set, i), label: set.labels?.[i] ?? -1 })),
        hasTestSplit: testSpec(source) !== undefined,
      };
    },
  };
}

export function trainSpec(source: DataSource): DataSourceSpec {
  if (source.kind === 'builtin') return { kind: 'idx', dir: 'builtin:fashion-mnist', split: 'train' };
  if (source.kind === 'idx') return { kind: 'idx', dir: path.resolve(source.dir), split: 'train' };
  if (!existsSync(source.dir)) throw new Error(`no folder at ${source.dir}`);
  return { kind: 'folder', dir: path.resolve(source.dir) };
}

export function testSpec(source: DataSource): DataSourceSpec | undefined {
  if (source.kind === 'builtin') return { kind: 'idx', dir: 'builtin:fashion-mnist', split: 'test' };
  if (source.kind === 'idx' && tryFindIdxPair(path.resolve(source.dir), 'test'))
    return { kind: 'idx', dir: path.resolve(source.dir), split: 'test' };
  return undefined;
}

/** Image `i` as base64 of its height·width·channels bytes (0–255, HWC), as the UI draws it. */
export function imageBase64(set: ImageSet, i: number): string {
  const per = set.height * set.width * set.channels;
  const bytes = new Uint8Array(per);
  const src = set.images.subarray(i * per, (i + 1) * per);
  for (let k = 0; k < per; k++) bytes[k] = Math.round(Math.min(1, Math.max(0, src[k])) * 255);
  return Buffer.from(bytes).toString('base64');
}
