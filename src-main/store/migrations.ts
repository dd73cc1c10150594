/**
 * Numbered schema migrations, tracked in `PRAGMA user_version`. Never edit a released step:
 * add a new one. Version 1 is the first released schema (a fixture of it lives in test/fixtures).
 */
export const MIGRATIONS: { version: number; why: string; sql: string }[] = [
  {
    version: 1,
    why: 'projects, teachers, datasets, runs and their per-epoch metrics',
    sql: `
      CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      );
      CREATE TABLE teachers (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        identity TEXT NOT NULL,
        protocol TEXT NOT NULL,
        name TEXT NOT NULL,
        -- connection settings only; secrets never enter the store
        settings_json TEXT NOT NULL,
        UNIQUE (project_id, identity)
      );
      CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        count INTEGER NOT NULL,
        height INTEGER NOT NULL,
        width INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        UNIQUE (project_id, fingerprint)
      );
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        teacher_id INTEGER REFERENCES teachers(id),
        dataset_id INTEGER REFERENCES datasets(id),
        name TEXT NOT NULL,
        recipe_json TEXT NOT NULL,
        engine_version TEXT NOT NULL,
        backend_json TEXT,
        status TEXT NOT NULL CHECK (status IN ('queued','running','paused','cancelled','failed','completed')),
        error TEXT,
        summary_json TEXT,
        queries_spent INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE epoch_metrics (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        loss REAL NOT NULL,
        accuracy REAL,
        fidelity REAL,
        seconds REAL NOT NULL,
        queries INTEGER NOT NULL,
        PRIMARY KEY (run_id, epoch)
      );
    `,
  },
  {
    version: 2,
    why: 'resumable jobs (checkpoints, control requests), the teacher reply cache, exports and an event log',
    sql: `
      ALTER TABLE runs ADD COLUMN control TEXT CHECK (control IN ('pause','cancel'));
      ALTER TABLE runs ADD COLUMN pid INTEGER;
      CREATE TABLE checkpoints (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        path TEXT NOT NULL,
        score REAL,
        bytes INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, epoch)
      );
      CREATE TABLE reply_cache (
        teacher_identity TEXT NOT NULL,
        input_hash TEXT NOT NULL,
        reply BLOB NOT NULL,
        -- the run that paid for this reply, and whether for training or evaluation: the exact
        -- count of queries a run spent is the count of rows it inserted (crash-consistent)
        run_id TEXT,
        purpose TEXT NOT NULL CHECK (purpose IN ('train','eval','probe')),
        created_at TEXT NOT NULL,
        PRIMARY KEY (teacher_identity, input_hash)
      ) WITHOUT ROWID;
      CREATE INDEX reply_cache_by_run ON reply_cache(run_id, purpose);
      CREATE TABLE exports (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        info_json TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX events_by_run ON events(run_id, id);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
