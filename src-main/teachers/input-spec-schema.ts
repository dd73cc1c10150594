import { z } from 'zod';

/** A teacher's declared input (see TeacherInputSpec), as recipes and manifests write it. */
export const inputSpecSchema = z.strictObject({
  name: z.string().optional(),
  shape: z.array(z.number().int()).length(4),
  layout: z.enum(['NCHW', 'NHWC']),
  dtype: z.literal('float32').default('float32'),
  scale: z.tuple([z.number(), z.number()]).default([0, 1]),
  mean: z.array(z.number()).optional(),
  std: z.array(z.number().positive()).optional(),
});
