/**
 * The persisted teacher reply cache: one row per (teacher identity, hash of the exact input
 * bytes sent). Writes are committed before the reply is used, so a paid reply survives a crash.
 */
import type { Db } from './open-store.ts';

export class SqliteReplyBlobs {
  private readonly getStmt;
  private readonly putStmt;

  constructor(
    private readonly db: Db,
    private readonly owner: { runId: string | null; purpose: 'train' | 'eval' | 'probe' },
  ) {
    this.getStmt = db.prepare('SELECT reply FROM reply_cache WHERE teacher_identity = ? AND input_hash = ?').pluck();
    this.putStmt = db.prepare(
      'INSERT OR IGNORE INTO reply_cache (teacher_identity, input_hash, reply, run_id, purpose, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  getMany(teacherId: string, keys: string[]): (Buffer | undefined)[] {
    return keys.map((k) => this.getStmt.get(teacherId, k) as Buffer | undefined);
  }

  putMany(teacherId: string, entries: { key: string; blob: Buffer }[]): void {
    const at = new Date().toISOString();
    this.db.transaction(() => {
      for (const e of entries) this.putStmt.run(teacherId, e.key, e.blob, this.owner.runId, this.owner.purpose, at);
    }).immediate();
  }

  /** Replies paid for by one run (for one purpose): its exact query spend. */
  static spentBy(db: Db, runId: string, purpose: 'train' | 'eval'): number {
    return db.prepare('SELECT COUNT(*) FROM reply_cache WHERE run_id = ? AND purpose = ?').pluck().get(runId, purpose) as number;
  }
}
