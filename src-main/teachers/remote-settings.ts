/**
 * Settings every HTTP teacher adapter shares, read from the recipe's teacher block (or from the
 * desktop shell, which may add `auth.token`). Unknown keys are ignored here: the recipe schema is
 * the closed one.
 */
import { z } from 'zod';
import { RESPONSE_KINDS } from './responses.ts';
import { inputSpecSchema } from './input-spec-schema.ts';
import { teacherAuthSchema, type TeacherAuth } from './auth.ts';
import { TeacherConfigError } from './errors.ts';
import type { TeacherInputSpec } from './teacher.ts';

export const remoteSettingsSchema = z.object({
  /** Base URL of the endpoint, e.g. http://127.0.0.1:8080 (a full URL for http-json). */
  url: z.string().url(),
  modelName: z.string().min(1).optional(),
  modelVersion: z.string().min(1).optional(),
  input: inputSpecSchema.optional(),
  /** What the teacher returns; detected from metadata or one probe sample when left out. */
  responseKind: z.enum(RESPONSE_KINDS).optional(),
  topK: z.number().int().min(1).optional(),
  classNames: z.array(z.string()).optional(),
  /** Needed only when neither metadata, class names nor a probe can tell (top-k, top-1 teachers). */
  numClasses: z.number().int().min(2).optional(),
  auth: teacherAuthSchema.extend({ token: z.string().optional() }).optional(),
  /** Extra request headers (never secrets: those go in `auth`). */
  headers: z.record(z.string(), z.string()).optional(),
  /** Per-request timeout (default 30 s). */
  timeoutMs: z.number().int().positive().default(30_000),
});
export type RemoteSettings = z.infer<typeof remoteSettingsSchema>;

export function parseSettings<T extends z.ZodType>(
  schema: T,
  protocol: string,
  settings: Record<string, unknown>,
): z.infer<T> {
  const r = schema.safeParse(settings);
  if (!r.success) {
    throw new TeacherConfigError(
      `${protocol} teacher settings: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}

/** The endpoint without credentials or query string, for identities and messages. */
export function publicEndpoint(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`;
}

export function requestHeaders(
  s: { headers?: Record<string, string> },
  auth: Record<string, string>,
): Record<string, string> {
  return { ...(s.headers ?? {}), ...auth };
}

/**
 * An input spec from a metadata shape (batch first): channels-first when the second dimension is
 * 1 or 3 and the last is not, else channels-last; pixels in [0, 1] unless declared otherwise.
 */
export function inputSpecFromShape(shape: number[], name?: string): TeacherInputSpec {
  if (shape.length !== 4)
    throw new TeacherConfigError(
      `teacher input shape ${JSON.stringify(shape)} is not an image batch; declare teacher.input`,
    );
  const nchw = (shape[1] === 1 || shape[1] === 3) && !(shape[3] === 1 || shape[3] === 3);
  return { shape: [-1, ...shape.slice(1)], layout: nchw ? 'NCHW' : 'NHWC', dtype: 'float32', scale: [0, 1], name };
}

export type { TeacherAuth };
