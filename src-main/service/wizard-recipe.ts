/** The wizard's choices as a versioned recipe, the same file format `distill run` reads. */
import path from 'node:path';
import type { RunRequest } from '../api/contract.ts';
import { parseRecipe } from '../recipe/load-recipe.ts';
import type { Recipe } from '../recipe/recipe-schema.ts';
import { UI_TOKEN_ENV } from '../worker/run-manager.ts';
import { testSpec, trainSpec } from './data.ts';

/** The token travels only as an environment variable: the recipe names the variable. */
export function buildRecipe(req: RunRequest): Recipe {
  const t = req.teacher;
  const test = req.data.testLimit > 0 ? testSpec(req.data.source) : undefined;
  return parseRecipe(
    {
      version: 1,
      name: req.name,
      teacher: {
        protocol: t.protocol,
        ...(t.protocol === 'onnx-local'
          ? { model: path.resolve(t.target) }
          : { url: t.target, ...(t.modelName ? { modelName: t.modelName } : {}) }),
        ...(t.input ? { input: { dtype: 'float32', scale: [0, 1], ...t.input } } : {}),
        ...(t.tokenKey ? { auth: { scheme: 'bearer', env: UI_TOKEN_ENV } } : {}),
      },
      data: {
        train: trainSpec(req.data.source),
        n: req.data.n,
        ...(test ? { test, testLimit: req.data.testLimit } : {}),
      },
      student: { key: req.student },
      method: req.method,
      budget: req.budget,
      training: req.training,
    },
    'wizard',
  );
}
