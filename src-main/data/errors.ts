import { DistillError } from '../util/errors.ts';

/**
 * Raised for anything wrong with input data. The message always starts with the offending
 * path so a user can go straight to the file, and `file` carries it for programmatic use
 * (the UI highlights it; the CLI prints it).
 */
export class DataImportError extends DistillError {
  readonly code = 'data-import';
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'DataImportError';
    this.file = file;
  }
}

/** A short phrase for an fs failure; the raw errno text means little to most users. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a folder, expected a file';
  if (code === 'ENOTDIR') return 'not a folder';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}
