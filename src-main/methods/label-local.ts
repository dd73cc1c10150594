import type { MethodContext } from './method.ts';
import type { TeacherResponses } from '../teachers/responses.ts';

/** Labels every local image once through the budgeted client (the transfer set of standard KD). */
export function labelLocalImages(ctx: MethodContext): Promise<TeacherResponses> {
  const { local } = ctx;
  const per = local.height * local.width * local.channels;
  return ctx.client.label(local.images, local.count, per, (p) => ctx.onLabelProgress(p));
}
