/**
 * Finds a finished run by id (or by its folder) and reads what export needs. Runs live in
 * `<home>/runs/<id>/` today; this is the one function to change when the run store moves.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunSummary } from '../store/run-summary.ts';
import { parseRecipe } from '../recipe/load-recipe.ts';
import type { Recipe } from '../recipe/recipe-schema.ts';
import { RunNotFoundError } from '../store/store-errors.ts';
import { Store } from '../store/store.ts';

export interface LocatedRun {
  runId: string;
  runDir: string;
  summary: RunSummary;
  recipe: Recipe;
  /** The trained tfjs student (model.json + weights.bin). */
  studentDir: string;
}

export function locateRun(home: string, idOrDir: string): LocatedRun {
  let runDir: string;
  if (existsSync(path.join(idOrDir, 'summary.json'))) runDir = path.resolve(idOrDir);
  else {
    // The store resolves unique id prefixes and knows runs that never finished.
    const store = Store.open(home);
    try {
      runDir = path.join(home, 'runs', store.getRun(idOrDir).id);
    } catch (err) {
      throw new RunNotFoundError((err as Error).message);
    } finally {
      store.close();
    }
  }
  const summaryFile = path.join(runDir, 'summary.json');
  if (!existsSync(summaryFile)) {
    throw new RunNotFoundError(
      `no finished run "${idOrDir}" (looked for ${summaryFile}); a run that was stopped or failed has no summary`,
    );
  }
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummary;
  if (summary.status && summary.status !== 'completed') {
    throw new RunNotFoundError(
      `run "${summary.runId}" is ${summary.status}, not completed: resume it before exporting`,
    );
  }
  const recipeFile = path.join(runDir, 'recipe.json');
  const recipe = parseRecipe(JSON.parse(readFileSync(recipeFile, 'utf8')), recipeFile);
  const studentDir = path.join(runDir, 'student');
  if (!existsSync(path.join(studentDir, 'model.json'))) {
    throw new RunNotFoundError(`run "${summary.runId}" has no saved student in ${studentDir}`);
  }
  return { runId: summary.runId, runDir, summary, recipe, studentDir };
}
