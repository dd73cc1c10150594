import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../util/project-root.ts';
import YAML from 'yaml';
import { recipeSchema, type Recipe } from './recipe-schema.ts';
import { DistillError } from '../util/errors.ts';

export const PROJECT_ROOT = projectRoot();
export const RESOURCES_DIR = path.join(PROJECT_ROOT, 'resources');

/** Every problem with a recipe, so a user fixes them all in one go. */
export class RecipeError extends DistillError {
  override name = 'RecipeError';
  readonly code = 'invalid-recipe';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(
      `${source}: invalid recipe (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`,
    );
  }
}

export function parseRecipe(raw: unknown, source: string): Recipe {
  const parsed = recipeSchema.safeParse(raw);
  if (!parsed.success) {
    throw new RecipeError(
      source,
      parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
    );
  }
  return parsed.data;
}

/** Reads a .json, .yaml or .yml recipe. YAML is parsed without custom tags: data only. */
export function loadRecipeFile(file: string): { recipe: Recipe; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RecipeError(file, [`cannot read: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYamlData(text) : JSON.parse(text);
  } catch (err) {
    throw new RecipeError(file, [`not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`]);
  }
  return { recipe: parseRecipe(raw, file), baseDir: path.dirname(path.resolve(file)) };
}

/** Resolves a recipe path: `builtin:` → resources/, relative → the recipe's folder. */
export function resolveRecipePath(p: string, baseDir: string): string {
  if (p.startsWith('builtin:')) return path.join(RESOURCES_DIR, p.slice('builtin:'.length));
  return path.resolve(baseDir, p);
}

/** YAML with the core schema only; any tag it cannot resolve (e.g. `!!js/function`) is an error, not a string. */
function parseYamlData(text: string): unknown {
  const doc = YAML.parseDocument(text, { schema: 'core', customTags: [], merge: false, uniqueKeys: true });
  const issues = [...doc.errors, ...doc.warnings];
  if (issues.length) throw new Error(issues.map((i) => i.message.split('\n')[0]).join('; '));
  return doc.toJS();
}
