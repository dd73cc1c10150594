/**
 * Checks what the schema alone cannot: that the student, method, kwargs and protocol exist and
 * that files are there. Every problem is listed, before any work or any query.
 */
import { existsSync } from 'node:fs';
import type { Recipe } from '../recipe/recipe-schema.ts';
import { resolveRecipePath } from '../recipe/load-recipe.ts';
import { listStudents } from '../students/index.ts';
import { checkMethodBlock } from '../methods/index.ts';
import { teacherProtocols } from '../teachers/index.ts';

export async function validateRecipeReferences(recipe: Recipe, baseDir: string): Promise<string[]> {
  const problems: string[] = [];
  const students = listStudents().map((s) => s.key);
  if (!students.includes(recipe.student.key)) {
    problems.push(`student.key: unknown student "${recipe.student.key}"; known: ${students.join(', ')}`);
  }
  problems.push(...checkMethodBlock(recipe.method.key, recipe.method.kwargs));
  const protocols = teacherProtocols();
  if (!protocols.includes(recipe.teacher.protocol)) {
    problems.push(`teacher.protocol: unknown protocol "${recipe.teacher.protocol}"; known: ${protocols.join(', ')}`);
  } else if (recipe.teacher.protocol === 'onnx-local') {
    if (!recipe.teacher.model) problems.push('teacher.model: onnx-local needs a model file (.json manifest or .onnx)');
    else if (!existsSync(resolveRecipePath(recipe.teacher.model, baseDir))) {
      problems.push(`teacher.model: ${resolveRecipePath(recipe.teacher.model, baseDir)} does not exist`);
    } else if (recipe.teacher.model.endsWith('.onnx') && !recipe.teacher.input) {
      problems.push('teacher.input: a bare .onnx teacher needs an input spec (shape, layout, scale)');
    }
  }
  for (const [key, src] of [
    ['data.train', recipe.data.train],
    ['data.test', recipe.data.test],
  ] as const) {
    if (!src) continue;
    if (src.kind === 'folder' && !existsSync(resolveRecipePath(src.dir, baseDir))) {
      problems.push(`${key}.dir: ${resolveRecipePath(src.dir, baseDir)} does not exist`);
    }
    if (src.kind === 'idx') {
      if (!src.dir && !src.images) problems.push(`${key}: give dir (a folder of IDX files) or images (+ labels)`);
      for (const f of ['dir', 'images', 'labels'] as const) {
        const p = src[f];
        if (p && p !== 'builtin:fashion-mnist' && !existsSync(resolveRecipePath(p, baseDir))) {
          problems.push(`${key}.${f}: ${resolveRecipePath(p, baseDir)} does not exist`);
        }
      }
    }
  }
  return problems;
}
