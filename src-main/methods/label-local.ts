import type { MethodContext } from './method.ts';
import type { TeacherResponses } from '../teachers/responses.ts';
import { saveSentGrid } from './image-grid.ts';

/**
 * Labels every local image once through the budgeted client (the transfer set of standard KD),
 * and saves a grid of what was sent with the teacher's labels.
 */
export async function labelLocalImages(ctx: MethodContext): Promise<TeacherResponses> {
  const { local } = ctx;
  const per = local.height * local.width * local.channels;
  const replies = await ctx.client.label(local.images, local.count, per, (p) => ctx.onLabelProgress(p));
  saveSentGrid(ctx, 'sent-real', { images: local.images, count: local.count, dims: local, labels: replies.top1 });
  return replies;
}
