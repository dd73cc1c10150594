/**
 * Stage 2 of a run: the teacher's replies on the held-out images, counted apart from the training
 * budget, so that each epoch's fidelity (student–teacher agreement) can be measured.
 */
import { TeacherClient } from '../../teachers/teacher-client.ts';
import { QueryBudget } from '../../teachers/query-budget.ts';
import { agreement } from '../../training/evaluate.ts';
import { clientOptions, type RunContext } from './context.ts';
import type { Prepared } from './prepare.ts';

export interface HeldOut {
  /** The teacher's top-1 on each held-out image; absent without held-out data or evaluation queries. */
  teacherTest?: Int32Array;
  evaluationQueries: number;
  /** Teacher top-1 against the held-out ground truth (NaN without it). */
  teacherAccuracy: number;
}

export async function labelHeldOut(ctx: RunContext, p: Prepared): Promise<HeldOut> {
  const { test } = p.data;
  if (!test || !ctx.recipe.budget.evaluationQueries) return { evaluationQueries: 0, teacherAccuracy: NaN };
  ctx.emit({
    type: 'phase',
    phase: 'evaluate-teacher',
    message: `asking the teacher about ${test.count} held-out images (evaluation only)`,
  });
  const evalClient = new TeacherClient(p.teacher, new QueryBudget(Infinity), clientOptions(ctx, 'eval'));
  const replies = await evalClient.label(test.images, test.count, test.height * test.width * test.channels);
  const teacherTest = replies.top1;
  const evaluationQueries = ctx.store.repliesSpent(ctx.runId, 'eval');
  return { teacherTest, evaluationQueries, teacherAccuracy: test.labels ? agreement(teacherTest, test.labels) : NaN };
}
