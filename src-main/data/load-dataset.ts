import path from 'node:path';
import { FASHION_MNIST_CLASSES, resolveFashionMnistDir } from './fashion-mnist.ts';
import { findIdxPair, loadIdxImages } from './idx.ts';
import { loadImageFolder } from './image-folder.ts';
import type { ImageSet } from './image-set.ts';

export { FASHION_MNIST_CLASSES, resolveFashionMnistDir } from './fashion-mnist.ts';
export type { FashionMnistLocation } from './fashion-mnist.ts';

export interface IdxDatasetSpec {
  kind: 'idx';
  /** Folder with MNIST-style file names. Omitted (with no `images`): Fashion-MNIST. */
  dir?: string;
  /** Explicit images file; relative paths are taken from `dir` when it is given. */
  images?: string;
  labels?: string;
  split?: 'train' | 'test';
  /** Names for the label values; Fashion-MNIST's are filled in when it is the default source. */
  classNames?: string[];
}

export interface FolderDatasetSpec {
  kind: 'folder';
  dir: string;
  grayscale?: boolean;
  size?: [number, number];
  labelled?: 'auto' | boolean;
}

export type DatasetSpec = IdxDatasetSpec | FolderDatasetSpec;

/** The one entry recipes use to turn a data description into an ImageSet. */
export function loadDataset(spec: DatasetSpec): ImageSet {
  if (spec.kind === 'folder') {
    return loadImageFolder(spec.dir, { grayscale: spec.grayscale, size: spec.size, labelled: spec.labelled });
  }
  const within = (p: string): string => (spec.dir ? path.resolve(spec.dir, p) : p);
  if (spec.images) {
    return loadIdxImages(within(spec.images), spec.labels ? within(spec.labels) : undefined, spec.classNames);
  }
  const split = spec.split ?? 'train';
  const dir = spec.dir ?? resolveFashionMnistDir().dir;
  const pair = findIdxPair(dir, split);
  const classNames = spec.classNames ?? (spec.dir ? undefined : [...FASHION_MNIST_CLASSES]);
  return loadIdxImages(pair.images, pair.labels, classNames);
}
