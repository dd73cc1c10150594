import type { DataSourceSpec } from './recipe-schema.ts';
import { resolveRecipePath } from './load-recipe.ts';
import { loadDataset, resolveFashionMnistDir } from '../data/load-dataset.ts';
import { DEMO_FASHION_MNIST, demoFashionMnistDir } from '../data/fashion-mnist.ts';

/** Turns a recipe data block into a loader spec with absolute paths and a label for reports. */
export function resolveSource(
  src: DataSourceSpec,
  baseDir: string,
): { spec: Parameters<typeof loadDataset>[0]; label: string; origin?: string } {
  if (src.kind === 'folder') {
    const dir = resolveRecipePath(src.dir, baseDir);
    return { spec: { ...src, dir }, label: dir };
  }
  if (src.dir === DEMO_FASHION_MNIST) {
    return {
      spec: { ...src, dir: demoFashionMnistDir() },
      label: `Fashion-MNIST ${src.split} (shipped demo subset)`,
      origin: 'demo',
    };
  }
  if (src.dir === 'builtin:fashion-mnist') {
    const { dir, origin } = resolveFashionMnistDir();
    return {
      spec: { ...src, dir },
      label: `Fashion-MNIST ${src.split} (${origin === 'debian' ? 'Debian dataset-fashion-mnist' : 'shipped demo subset'})`,
      origin,
    };
  }
  const spec = {
    ...src,
    dir: src.dir ? resolveRecipePath(src.dir, baseDir) : undefined,
    images: src.images ? resolveRecipePath(src.images, baseDir) : undefined,
    labels: src.labels ? resolveRecipePath(src.labels, baseDir) : undefined,
  };
  return { spec, label: spec.images ?? `${spec.dir} (${src.split})` };
}
