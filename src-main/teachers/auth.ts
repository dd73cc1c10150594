/**
 * Teacher credentials (docs/protocols.md, "Auth"). A recipe names the environment variable, never the
 * value; the desktop shell instead passes the value (from Electron safeStorage) as `token`.
 * Either way the value is registered as a secret so it is redacted everywhere.
 */
import { z } from 'zod';
import { TeacherConfigError } from './errors.ts';
import { registerSecret } from './secrets.ts';

export const teacherAuthSchema = z.strictObject({
  /** `bearer`: `Authorization: Bearer <token>`; `api-key`: the token in `header`. */
  scheme: z.enum(['bearer', 'api-key']),
  /** Header for `api-key` (default `x-api-key`). */
  header: z.string().min(1).optional(),
  /** Environment variable holding the token (CLI). */
  env: z.string().min(1).optional(),
});
export type TeacherAuth = z.infer<typeof teacherAuthSchema> & {
  /** The token itself, for the desktop shell; never written to a recipe. */
  token?: string;
};

/** Headers to send, or {} without auth. Throws a clear error naming a missing variable. */
export function authHeaders(
  auth: TeacherAuth | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  if (!auth) return {};
  let token = auth.token;
  if (token === undefined) {
    if (!auth.env)
      throw new TeacherConfigError('teacher auth needs `env` (the environment variable holding the token)');
    token = env[auth.env];
    if (!token) throw new TeacherConfigError(`teacher auth: environment variable ${auth.env} is not set or empty`);
  }
  registerSecret(token);
  if (auth.scheme === 'bearer') return { authorization: `Bearer ${token}` };
  return { [(auth.header ?? 'x-api-key').toLowerCase()]: token };
}
