import fs from 'node:fs';
import path from 'node:path';
import { DataImportError, describeFsError } from './errors.ts';

/** Reads a whole file, turning the usual fs failures into a DataImportError naming it. */
export function readFileOrThrow(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new DataImportError(file, describeFsError(err), { cause: err });
  }
}

export interface FolderEntry {
  name: string;
  path: string;
  kind: 'file' | 'dir' | 'other';
}

/**
 * A folder's entries sorted by code unit rather than locale, so every machine loads the same
 * sequence. Symlinks are followed because datasets are often assembled from linked files.
 */
export function listFolder(dir: string): FolderEntry[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataImportError(dir, code === 'ENOENT' ? 'folder not found' : describeFsError(err), { cause: err });
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => {
    const full = path.join(dir, name);
    let kind: FolderEntry['kind'] = 'other';
    try {
      const st = fs.statSync(full);
      kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
    } catch {
      // A dangling symlink is neither file nor folder; callers skip 'other'.
    }
    return { name, path: full, kind };
  });
}
