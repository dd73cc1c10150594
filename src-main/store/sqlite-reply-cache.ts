/**
 * The persisted teacher reply cache: one row per (teacher identity, hash of the exact input
 * bytes sent). `putMany` commits before returning, so a paid reply survives a crash before use.
 */
import type { Db } from './open-store.ts';
import { decodeReply, encodeReply, type CachedReply, type ReplyCache } from '../teachers/reply-cache.ts';

export type ReplyPurpose = 'train' | 'eval' | 'probe';

export class SqliteReplyCache implements ReplyCache {
  private readonly getStmt;
  private readonly putStmt;

  /** Rows this cache inserts are attributed to `owner`: that is how a run's exact spend is counted. */
  constructor(
    private readonly db: Db,
    private readonly owner: { runId: string | null; purpose: ReplyPurpose },
  ) {
    this.getStmt = db.prepare('SELECT reply FROM reply_cache WHERE teacher_identity = ? AND input_hash = ?').pluck();
    this.putStmt = db.prepare(
      'INSERT OR IGNORE INTO reply_cache (teacher_identity, input_hash, reply, run_id, purpose, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  getMany(teacherId: string, keys: string[]): (CachedReply | undefined)[] {
    return keys.map((k) => {
      const blob = this.getStmt.get(teacherId, k) as Buffer | undefined;
      return blob ? decodeReply(blob) : undefined;
    });
  }

  putMany(teacherId: string, entries: { key: string; reply: CachedReply }[]): void {
    const at = new Date().toISOString();
    this.db
      .transaction(() => {
        for (const e of entries)
          this.putStmt.run(teacherId, e.key, encodeReply(e.reply), this.owner.runId, this.owner.purpose, at);
      })
      .immediate();
  }

  /** Replies paid for by one run for one purpose: its exact query spend, consistent after any crash. */
  static spentBy(db: Db, runId: string, purpose: ReplyPurpose): number {
    return db
      .prepare('SELECT COUNT(*) FROM reply_cache WHERE run_id = ? AND purpose = ?')
      .pluck()
      .get(runId, purpose) as number;
  }
}
