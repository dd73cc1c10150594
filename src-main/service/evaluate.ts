/** The Evaluate step: a finished run's student on its held-out images, beside the teacher's cached answers. */
import { resolveSource } from '../recipe/resolve-source.ts';
import { loadDataset } from '../data/load-dataset.ts';
import { subset, type ImageSet } from '../data/image-set.ts';
import type { Recipe } from '../recipe/recipe-schema.ts';
import { locateRun } from '../export/locate-run.ts';
import { loadModel } from '../students/model-io.ts';
import { classificationReport, predictLogits } from '../training/evaluate.ts';
import { openTeacher } from '../teachers/index.ts';
import { TeacherClient } from '../teachers/teacher-client.ts';
import { QueryBudget } from '../teachers/query-budget.ts';
import { SqliteReplyCache } from '../store/sqlite-reply-cache.ts';
import { UI_TOKEN_ENV } from '../worker/run-manager.ts';
import type { ApiHandlers, ServiceContext } from './context.ts';
import { imageBase64 } from './data.ts';

export function evaluateHandlers(ctx: ServiceContext): Pick<ApiHandlers, 'runs:evaluate'> {
  return {
    'runs:evaluate': async ({ runId }) => {
      await ctx.ensureBackend();
      const run = locateRun(ctx.home, ctx.store.getRun(runId).id);
      const src = run.recipe.data.test ?? run.recipe.data.train;
      let set = loadDataset(resolveSource(src, '/').spec);
      const limit = run.recipe.data.testLimit ?? 1000;
      if (set.count > limit)
        set = subset(
          set,
          Array.from({ length: limit }, (_, i) => i),
        );
      if (!set.labels) throw new Error('the evaluation images have no labels, so accuracy cannot be measured');
      const model = await loadModel(run.studentDir);
      try {
        const logits = await predictLogits(model, set.images, set.count, set);
        const report = classificationReport(logits, set.labels, set.count);
        const classNames =
          run.summary.teacher.classNames ?? set.classNames ?? report.confusion.map((_, i) => String(i));
        const nSamples = Math.min(12, set.count);
        const teacherTop1 = await cachedTeacherLabels(ctx, run.recipe, run.runId, set, nSamples);
        return {
          classNames,
          confusion: report.confusion,
          perClass: report.perClass.map((p, c) => ({ name: classNames[c] ?? String(c), ...p })),
          accuracy: report.accuracy,
          calibration: report.calibration,
          ece: report.ece,
          samples: Array.from({ length: nSamples }, (_, i) => ({
            pixels: imageBase64(set, i),
            height: set.height,
            width: set.width,
            channels: set.channels,
            label: set.labels?.[i] ?? -1,
            student: report.predicted[i],
            teacher: teacherTop1 ? teacherTop1[i] : null,
          })),
        };
      } finally {
        model.dispose();
      }
    },
  };
}

/**
 * Teacher top-1 for the first `n` held-out images, from the replies the run already paid for
 * (the evaluation phase cached them), so the Evaluate step spends nothing. Null if unavailable.
 */
async function cachedTeacherLabels(
  ctx: ServiceContext,
  recipe: Recipe,
  runId: string,
  set: ImageSet,
  n: number,
): Promise<Int32Array | null> {
  try {
    const t = recipe.teacher;
    const token = t.auth?.env === UI_TOKEN_ENV ? ctx.tokenFor(ctx.tokenKeys.get(runId)) : undefined;
    const teacher = await openTeacher(t.protocol, { ...t, auth: t.auth ? { ...t.auth, token } : undefined });
    try {
      const client = new TeacherClient(teacher, new QueryBudget(0), {
        cache: new SqliteReplyCache(ctx.store.db, { runId, purpose: 'eval' }),
      });
      const per = set.height * set.width * set.channels;
      const replies = await client.label(set.images.subarray(0, n * per), n, per);
      return replies.top1;
    } finally {
      await teacher.close();
    }
  } catch {
    return null;
  }
}
