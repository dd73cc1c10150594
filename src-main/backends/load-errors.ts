/** Turning a failed package load into a one-line reason for the backend attempt log. */

/** The first non-empty line of an error's message, at most 200 characters. */
export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line =
    msg
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? 'unknown error';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** Whether an import failed because `pkg` itself is absent (not one of its own dependencies). */
export function isMissingPackage(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // A missing dependency *of* the package, or a missing file inside it (a native binary the
  // install did not fetch), is a broken install, not an absent one: only the bare name or a
  // subpath of it, quoted as the specifier, counts.
  const msg = err instanceof Error ? err.message : '';
  return [`'${pkg}'`, `"${pkg}"`, `'${pkg}/`, `"${pkg}/`].some((s) => msg.includes(s));
}
