/**
 * The project history: projects, teachers, datasets, runs, per-epoch metrics, checkpoints,
 * exports and an event log, in one SQLite file. Secrets never enter it.
 */
import path from 'node:path';
import { openDatabase, STORE_FILE, translateBusy, type Db } from './open-store.ts';
import { RunNotFoundError } from './store-errors.ts';
import { SqliteReplyCache, type ReplyPurpose } from './sqlite-reply-cache.ts';

export type RunStatus = 'queued' | 'running' | 'paused' | 'cancelled' | 'failed' | 'completed';

export interface RunRow {
  id: string;
  project: string;
  name: string;
  recipe: unknown;
  engineVersion: string;
  backend: unknown;
  status: RunStatus;
  error: string | null;
  summary: Record<string, unknown> | null;
  queriesSpent: number;
  control: 'pause' | 'cancel' | null;
  createdAt: string;
  updatedAt: string;
}

export interface MetricRow {
  epoch: number;
  loss: number;
  accuracy: number | null;
  fidelity: number | null;
  seconds: number;
  queries: number;
}

export interface CheckpointRow {
  epoch: number;
  path: string;
  score: number | null;
  bytes: number;
}

const now = () => new Date().toISOString();

export class Store {
  readonly file: string;

  constructor(
    readonly db: Db,
    file: string,
  ) {
    this.file = file;
  }

  static open(home: string): Store {
    const file = path.join(home, STORE_FILE);
    return new Store(openDatabase(file), file);
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one write transaction, turning lock timeouts into a clear StoreBusyError. */
  write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw translateBusy(err, this.file);
    }
  }

  projectId(name: string): number {
    return this.write(() => {
      this.db.prepare('INSERT OR IGNORE INTO projects (name, created_at) VALUES (?, ?)').run(name, now());
      return (this.db.prepare('SELECT id FROM projects WHERE name = ?').get(name) as { id: number }).id;
    });
  }

  /** Records a teacher's connection settings (never secrets) and returns its row id. */
  teacherId(projectId: number, t: { identity: string; protocol: string; name: string; settings: object }): number {
    return this.write(() => {
      this.db
        .prepare(
          'INSERT OR IGNORE INTO teachers (project_id, identity, protocol, name, settings_json) VALUES (?, ?, ?, ?, ?)',
        )
        .run(projectId, t.identity, t.protocol, t.name, JSON.stringify(t.settings));
      return (
        this.db.prepare('SELECT id FROM teachers WHERE project_id = ? AND identity = ?').get(projectId, t.identity) as {
          id: number;
        }
      ).id;
    });
  }

  datasetId(
    projectId: number,
    d: { source: string; fingerprint: string; count: number; height: number; width: number; channels: number },
  ): number {
    return this.write(() => {
      this.db
        .prepare(
          'INSERT OR IGNORE INTO datasets (project_id, source, fingerprint, count, height, width, channels) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(projectId, d.source, d.fingerprint, d.count, d.height, d.width, d.channels);
      return (
        this.db
          .prepare('SELECT id FROM datasets WHERE project_id = ? AND fingerprint = ?')
          .get(projectId, d.fingerprint) as { id: number }
      ).id;
    });
  }

  createRun(r: { id: string; projectId: number; name: string; recipe: unknown; engineVersion: string }): void {
    this.write(() => {
      this.db
        .prepare(
          `INSERT INTO runs (id, project_id, name, recipe_json, engine_version, status, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)`,
        )
        .run(r.id, r.projectId, r.name, JSON.stringify(r.recipe), r.engineVersion, now(), now());
      this.logEvent(r.id, 'created', `run ${r.name} created`);
    });
  }

  updateRun(
    id: string,
    patch: Partial<{
      status: RunStatus;
      error: string | null;
      summary: object;
      backend: object;
      teacherId: number;
      datasetId: number;
      queriesSpent: number;
      control: null;
      pid: number | null;
      recipe: object;
    }>,
  ): void {
    const cols: string[] = [];
    const vals: unknown[] = [];
    const map: Record<string, [string, (v: any) => unknown]> = {
      status: ['status', (v) => v],
      error: ['error', (v) => v],
      summary: ['summary_json', (v) => JSON.stringify(v)],
      backend: ['backend_json', (v) => JSON.stringify(v)],
      teacherId: ['teacher_id', (v) => v],
      datasetId: ['dataset_id', (v) => v],
      queriesSpent: ['queries_spent', (v) => v],
      control: ['control', (v) => v],
      pid: ['pid', (v) => v],
      recipe: ['recipe_json', (v) => JSON.stringify(v)],
    };
    for (const [k, v] of Object.entries(patch)) {
      const [col, conv] = map[k];
      cols.push(`${col} = ?`);
      vals.push(conv(v));
    }
    this.write(() => {
      const res = this.db
        .prepare(`UPDATE runs SET ${cols.join(', ')}, updated_at = ? WHERE id = ?`)
        .run(...vals, now(), id);
      if (res.changes === 0) throw new RunNotFoundError(`no run with id ${id}`);
      if (patch.status) this.logEvent(id, 'status', patch.status + (patch.error ? `: ${patch.error}` : ''));
    });
  }

  /** Asks a running job (possibly in another process) to pause or cancel at its next step. */
  requestControl(id: string, control: 'pause' | 'cancel'): void {
    this.write(() => {
      const res = this.db
        .prepare(`UPDATE runs SET control = ?, updated_at = ? WHERE id = ? AND status IN ('queued','running')`)
        .run(control, now(), id);
      if (res.changes === 0) {
        const run = this.getRun(id);
        throw new Error(`run ${id} is ${run.status}; only a queued or running run can be asked to ${control}`);
      }
      this.logEvent(id, 'control', `${control} requested`);
    });
  }

  readControl(id: string): 'pause' | 'cancel' | null {
    const row = this.db.prepare('SELECT control FROM runs WHERE id = ?').get(id) as
      { control: 'pause' | 'cancel' | null } | undefined;
    return row?.control ?? null;
  }

  getRun(id: string): RunRow {
    const rows = this.db
      .prepare(`${RUN_SELECT} WHERE r.id = ? OR r.id LIKE ? ORDER BY r.created_at`)
      .all(id, `${id}%`) as RawRun[];
    const exact = rows.find((r) => r.id === id);
    if (exact) return toRun(exact);
    if (rows.length === 1) return toRun(rows[0]);
    if (rows.length > 1)
      throw new RunNotFoundError(`run id prefix "${id}" is ambiguous: ${rows.map((r) => r.id).join(', ')}`);
    throw new RunNotFoundError(`no run with id ${id}; \`distill runs\` lists them`);
  }

  listRuns(): RunRow[] {
    return (this.db.prepare(`${RUN_SELECT} ORDER BY r.created_at DESC`).all() as RawRun[]).map(toRun);
  }

  /** Writes one epoch's metrics; a resumed run re-running an epoch replaces that epoch's row. */
  recordEpoch(runId: string, m: MetricRow, queriesSpent: number): void {
    this.write(() => {
      this.db
        .prepare(
          `INSERT INTO epoch_metrics (run_id, epoch, loss, accuracy, fidelity, seconds, queries) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id, epoch) DO UPDATE SET loss = excluded.loss, accuracy = excluded.accuracy,
             fidelity = excluded.fidelity, seconds = excluded.seconds, queries = excluded.queries`,
        )
        .run(runId, m.epoch, m.loss, nullIfNaN(m.accuracy), nullIfNaN(m.fidelity), m.seconds, m.queries);
      this.db.prepare('UPDATE runs SET queries_spent = ?, updated_at = ? WHERE id = ?').run(queriesSpent, now(), runId);
    });
  }

  metrics(runId: string): MetricRow[] {
    return this.db
      .prepare(
        'SELECT epoch, loss, accuracy, fidelity, seconds, queries FROM epoch_metrics WHERE run_id = ? ORDER BY epoch',
      )
      .all(runId) as MetricRow[];
  }

  addCheckpoint(runId: string, c: CheckpointRow): void {
    this.write(() => {
      this.db
        .prepare(
          'INSERT OR REPLACE INTO checkpoints (run_id, epoch, path, score, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(runId, c.epoch, c.path, nullIfNaN(c.score ?? NaN), c.bytes, now());
    });
  }

  checkpoints(runId: string): CheckpointRow[] {
    return this.db
      .prepare('SELECT epoch, path, score, bytes FROM checkpoints WHERE run_id = ? ORDER BY epoch')
      .all(runId) as CheckpointRow[];
  }

  removeCheckpoint(runId: string, epoch: number): void {
    this.write(() => this.db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND epoch = ?').run(runId, epoch));
  }

  addExport(runId: string, dir: string, info: object): void {
    this.write(() => {
      this.db
        .prepare('INSERT INTO exports (run_id, path, info_json, created_at) VALUES (?, ?, ?, ?)')
        .run(runId, dir, JSON.stringify(info), now());
      this.logEvent(runId, 'export', `exported to ${dir}`);
    });
  }

  exports(runId: string): { path: string; info: unknown; createdAt: string }[] {
    return (
      this.db.prepare('SELECT path, info_json, created_at FROM exports WHERE run_id = ? ORDER BY id').all(runId) as {
        path: string;
        info_json: string;
        created_at: string;
      }[]
    ).map((r) => ({ path: r.path, info: JSON.parse(r.info_json), createdAt: r.created_at }));
  }

  logEvent(runId: string | null, kind: string, message: string): void {
    this.db
      .prepare('INSERT INTO events (run_id, at, kind, message) VALUES (?, ?, ?, ?)')
      .run(runId, now(), kind, message);
  }

  events(runId: string): { at: string; kind: string; message: string }[] {
    return this.db.prepare('SELECT at, kind, message FROM events WHERE run_id = ? ORDER BY id').all(runId) as {
      at: string;
      kind: string;
      message: string;
    }[];
  }

  /** Training queries spent by every run of a project. */
  projectQueries(project: string): number {
    const row = this.db
      .prepare(
        'SELECT COALESCE(SUM(r.queries_spent), 0) AS q FROM runs r JOIN projects p ON p.id = r.project_id WHERE p.name = ?',
      )
      .get(project) as { q: number };
    return row.q;
  }

  // --- For the service layer (src-main/service): queries its handlers used to write in SQL themselves.

  /** Every project with its run count, queries spent and last run, most recently used first. */
  projectSummaries(): { name: string; runs: number; queries: number; lastUsed: string | null }[] {
    const rows = this.db
      .prepare(
        `SELECT p.name, COUNT(r.id) AS runs, COALESCE(SUM(r.queries_spent), 0) AS queries, MAX(r.created_at) AS last
         FROM projects p LEFT JOIN runs r ON r.project_id = p.id GROUP BY p.id ORDER BY COALESCE(MAX(r.created_at), p.created_at) DESC`,
      )
      .all() as { name: string; runs: number; queries: number; last: string | null }[];
    return rows.map((r) => ({ name: r.name, runs: r.runs, queries: r.queries, lastUsed: r.last }));
  }

  /**
   * Cancels a run: at once when no process is training it (paused or failed), otherwise by asking
   * it to stop at its next step (queued or running). Checked and changed in one transaction.
   */
  cancelRun(id: string): 'cancelled' | 'requested' {
    return this.write(() => {
      const res = this.db
        .prepare(
          `UPDATE runs SET status = 'cancelled', pid = NULL, updated_at = ? WHERE id = ? AND status IN ('paused','failed')`,
        )
        .run(now(), id);
      if (res.changes === 0) {
        this.requestControl(id, 'cancel');
        return 'requested';
      }
      this.logEvent(id, 'status', 'cancelled');
      return 'cancelled';
    });
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  // ---- For the run pipeline (src-main/jobs): what a run reads and writes besides the rows above. ----

  /** The process a run was last executing in (null once it stopped). */
  runPid(id: string): number | null {
    return (this.db.prepare('SELECT pid FROM runs WHERE id = ?').pluck().get(id) as number | null | undefined) ?? null;
  }

  /** Drops the metrics of epochs after `epoch`: their checkpoint was lost, so they are trained again. */
  dropMetricsAfter(runId: string, epoch: number): void {
    this.write(() => this.db.prepare('DELETE FROM epoch_metrics WHERE run_id = ? AND epoch > ?').run(runId, epoch));
  }

  /** The reply cache a run's teacher client uses; the rows it inserts are attributed to the run and purpose. */
  replyCache(runId: string, purpose: ReplyPurpose): SqliteReplyCache {
    return new SqliteReplyCache(this.db, { runId, purpose });
  }

  /** Replies a run paid for with one purpose (see SqliteReplyCache.spentBy). */
  repliesSpent(runId: string, purpose: ReplyPurpose): number {
    return SqliteReplyCache.spentBy(this.db, runId, purpose);
  }
}

const RUN_SELECT = `SELECT r.id, p.name AS project, r.name, r.recipe_json, r.engine_version, r.backend_json, r.status, r.error,
  r.summary_json, r.queries_spent, r.control, r.created_at, r.updated_at FROM runs r JOIN projects p ON p.id = r.project_id`;

interface RawRun {
  id: string;
  project: string;
  name: string;
  recipe_json: string;
  engine_version: string;
  backend_json: string | null;
  status: RunStatus;
  error: string | null;
  summary_json: string | null;
  queries_spent: number;
  control: 'pause' | 'cancel' | null;
  created_at: string;
  updated_at: string;
}

function toRun(r: RawRun): RunRow {
  return {
    id: r.id,
    project: r.project,
    name: r.name,
    recipe: JSON.parse(r.recipe_json),
    engineVersion: r.engine_version,
    backend: r.backend_json ? JSON.parse(r.backend_json) : null,
    status: r.status,
    error: r.error,
    summary: r.summary_json ? JSON.parse(r.summary_json) : null,
    queriesSpent: r.queries_spent,
    control: r.control,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function nullIfNaN(x: number | null): number | null {
  return x === null || Number.isNaN(x) ? null : x;
}
