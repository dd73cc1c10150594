import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRecipeFile, RecipeError, RESOURCES_DIR } from '../../src-main/recipe/load-recipe.ts';
import { validateRecipeReferences } from '../../src-main/jobs/validate-references.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'recipe-'));

test('the shipped demo recipe is valid and its references resolve', async () => {
  const { recipe, baseDir } = loadRecipeFile(path.join(RESOURCES_DIR, 'recipes', 'demo.yaml'));
  assert.equal(recipe.student.key, 'lenet5-half');
  assert.equal(recipe.budget.queries, 2000);
  assert.deepEqual(await validateRecipeReferences(recipe, baseDir), []);
});

test('a bad recipe lists every problem at once', () => {
  const file = path.join(dir, 'bad.json');
  writeFileSync(
    file,
    JSON.stringify({
      version: 2,
      name: '',
      teacher: { protocol: 'onnx-local', secretKey: 'x' },
      data: { train: { kind: 'idx', dir: 'x' }, n: -5 },
      student: { key: 'lenet5' },
      method: { key: 'kd-soft' },
      budget: { queries: 10 },
      training: { epochs: 0 },
      surprise: true,
    }),
  );
  try {
    loadRecipeFile(file);
    assert.fail('should have thrown');
  } catch (err) {
    assert.ok(err instanceof RecipeError);
    const text = err.problems.join('\n');
    for (const needle of ['version', 'name', 'teacher', 'secretKey', 'data.n', 'training.epochs', 'surprise']) {
      assert.match(text, new RegExp(needle), `missing a problem about ${needle}:\n${text}`);
    }
    assert.ok(err.problems.length >= 6);
  }
});

test('unknown student, method, kwargs and missing files are reported before any work', async () => {
  const file = path.join(dir, 'refs.yaml');
  writeFileSync(
    file,
    `
version: 1
name: refs
teacher: { protocol: onnx-local, model: nowhere.json }
data: { train: { kind: folder, dir: missing-folder }, n: 10 }
student: { key: resnet999 }
method: { key: kd-soft, kwargs: { temperature: -1, bogus: 3 } }
budget: { queries: 10 }
training: { epochs: 1 }
`,
  );
  const { recipe, baseDir } = loadRecipeFile(file);
  const problems = await validateRecipeReferences(recipe, baseDir);
  const text = problems.join('\n');
  assert.match(text, /student.key: unknown student "resnet999"; known: .*lenet5-half/);
  assert.match(text, /method.kwargs.temperature/);
  assert.match(text, /method.kwargs.*bogus/);
  assert.match(text, /teacher.model: .*nowhere.json does not exist/);
  assert.match(text, /data.train.dir: .*missing-folder does not exist/);
});

test('recipes are data: YAML tags that would build objects or code are rejected', () => {
  const file = path.join(dir, 'tags.yaml');
  const demo = readFileSync(path.join(RESOURCES_DIR, 'recipes', 'demo.yaml'), 'utf8');
  writeFileSync(file, demo.replace(/^name: .*$/m, 'name: !!js/function "function () { return 1 }"'));
  assert.throws(
    () => loadRecipeFile(file),
    (err: unknown) => err instanceof RecipeError && /not valid YAML: .*js\/function/i.test(err.message),
  );
});
