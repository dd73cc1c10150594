import type { Recipe, DataSourceSpec } from '../recipe/recipe-schema.ts';
import { resolveRecipePath } from '../recipe/load-recipe.ts';

/**
 * A copy of the recipe with every relative path made absolute, so the stored recipe can be
 * resumed or re-run from any working directory. `builtin:` paths stay as they are.
 */
export function absolutizeRecipe(recipe: Recipe, baseDir: string): Recipe {
  const abs = (p: string | undefined) =>
    p === undefined || p.startsWith('builtin:') ? p : resolveRecipePath(p, baseDir);
  const source = (s: DataSourceSpec): DataSourceSpec =>
    s.kind === 'folder'
      ? { ...s, dir: abs(s.dir)! }
      : { ...s, dir: abs(s.dir), images: abs(s.images), labels: abs(s.labels) };
  return {
    ...recipe,
    teacher: { ...recipe.teacher, model: abs(recipe.teacher.model) },
    data: {
      ...recipe.data,
      train: source(recipe.data.train),
      test: recipe.data.test ? source(recipe.data.test) : undefined,
    },
  };
}
