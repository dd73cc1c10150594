import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../util/project-root.ts';
import { DataImportError } from './errors.ts';
import { tryFindIdxPair } from './idx.ts';

/** Fashion-MNIST's ten classes, in label order. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Where Debian's dataset-fashion-mnist package installs the full 70,000 images. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * The project root: the nearest folder above this module holding package.json. Walking up
 * rather than counting levels keeps this right both from the sources and from a compiled dist/.
 */
export { projectRoot };

/** The shipped subset as a recipe names it: the same 2,000 + 2,000 images whatever is installed. */
export const DEMO_FASHION_MNIST = 'builtin:demo-data/fashion-mnist';

export function demoFashionMnistDir(): string {
  return path.join(projectRoot(), 'resources', 'demo-data', 'fashion-mnist');
}

function holdsBothSplits(dir: string): boolean {
  if (!fs.existsSync(dir)) return false;
  return (['train', 'test'] as const).every((split) => tryFindIdxPair(dir, split)?.labels !== undefined);
}

export interface FashionMnistLocation {
  dir: string;
  origin: 'debian' | 'demo';
}

/**
 * The full Debian-packaged Fashion-MNIST when installed, else the small demo copy that ships
 * with the project. The folders are parameters only so tests can point elsewhere.
 */
export function resolveFashionMnistDir(where: { debianDir?: string; demoDir?: string } = {}): FashionMnistLocation {
  const debian = where.debianDir ?? DEBIAN_FASHION_MNIST_DIR;
  if (holdsBothSplits(debian)) return { dir: debian, origin: 'debian' };
  const demo = where.demoDir ?? demoFashionMnistDir();
  if (holdsBothSplits(demo)) return { dir: demo, origin: 'demo' };
  throw new DataImportError(
    demo,
    `no Fashion-MNIST found: neither ${debian} (apt install dataset-fashion-mnist) nor the bundled demo ` +
      'folder holds train and test images with labels in the standard IDX names',
  );
}
