/**
 * Opens (creating if needed) the project store: one SQLite file under the app's home folder.
 * WAL lets readers work while a run writes; busy_timeout makes a second writer wait before it
 * gets a clear "busy" error instead of corrupting anything.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';
import { StoreBusyError, StoreVersionError } from './store-errors.ts';

export type Db = Database.Database;

export const STORE_FILE = 'distill.db';

export function openDatabase(file: string, opts: { busyTimeoutMs?: number } = {}): Db {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: opts.busyTimeoutMs ?? 10_000 });
  try {
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed transaction survives a killed process; only power loss can
    // roll back the very last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, file);
    return db;
  } catch (err) {
    db.close();
    throw translateBusy(err, file);
  }
}

export function migrate(db: Db, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new StoreVersionError(
      `${file} was written by a newer Distill Workbench (schema ${current}; this version knows up to ${SCHEMA_VERSION}). ` +
        'Upgrade the app, or point --home at another folder.',
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

export function translateBusy(err: unknown, file: string): unknown {
  const code = (err as { code?: string }).code;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new StoreBusyError(
      `${file} is busy: another Distill Workbench process is writing to it. Try again when it finishes.`,
    );
  }
  return err;
}
