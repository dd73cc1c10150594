/**
 * Starts and resumes runs in worker processes and fans their throttled progress out to the UI.
 * How a worker is launched is injected: the bridge forks a Node child, the desktop app a
 * utilityProcess; everything else is shared.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RunPush, UiRunEvent } from '../api/contract.ts';
import type { WorkerCommand, WorkerMessage } from './worker-messages.ts';
import { fromApiError } from '../util/serialize-error.ts';
import type { Recipe } from '../recipe/recipe-schema.ts';

/** The environment variable a wizard recipe names for its teacher token. */
export const UI_TOKEN_ENV = 'DISTILL_UI_TEACHER_TOKEN';

// Beside this file, with its extension: run-worker.ts under tsx, run-worker.js once compiled for packaging.
const OWN_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const RUN_WORKER = fileURLToPath(new URL(`./run-worker${OWN_EXT}`, import.meta.url));
/** Node flags a worker needs: the tsx loader when running from TypeScript sources. */
export const WORKER_EXEC_ARGV: string[] = OWN_EXT === '.ts' ? ['--import', import.meta.resolve('tsx')] : [];

export interface WorkerHandle {
  send(cmd: WorkerCommand): void;
  onMessage(cb: (m: WorkerMessage) => void): void;
  onExit(cb: (code: number | null) => void): void;
  kill(): void;
}

export type LaunchWorker = (env: Record<string, string>) => WorkerHandle;

/** Forks run-worker.ts under tsx, resolved absolutely so any working directory works. */
export const forkWorker: LaunchWorker = (env) => {
  const child = fork(RUN_WORKER, [], {
    execArgv: WORKER_EXEC_ARGV,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[run worker] ${d}`));
  return {
    send: (cmd) => child.send(cmd),
    onMessage: (cb) => child.on('message', (m) => cb(m as WorkerMessage)),
    onExit: (cb) => child.on('exit', (code) => cb(code)),
    kill: () => child.kill(),
  };
};

export class RunManager {
  private readonly listeners = new Set<(p: RunPush) => void>();
  private readonly workers = new Map<string, WorkerHandle>();

  constructor(
    private readonly home: string,
    private readonly launch: LaunchWorker = forkWorker,
  ) {}

  onPush(cb: (p: RunPush) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private push(p: RunPush): void {
    for (const l of this.listeners) l(p);
  }

  isActive(runId: string): boolean {
    return this.workers.has(runId);
  }

  /** Resolves with the run id once the run is recorded; rejects if the recipe cannot run. */
  start(recipe: Recipe, project: string, token?: string): Promise<string> {
    return this.spawn({ type: 'start', home: this.home, project, recipe }, token);
  }

  resume(runId: string, token?: string, budgetQueries?: number): Promise<string> {
    if (this.workers.has(runId)) return Promise.reject(new Error(`run ${runId} is already running`));
    return this.spawn(
      { type: 'resume', home: this.home, runId, ...(budgetQueries !== undefined ? { budgetQueries } : {}) },
      token,
      runId,
    );
  }

  private spawn(cmd: WorkerCommand, token: string | undefined, knownId?: string): Promise<string> {
    const worker = this.launch(token ? { [UI_TOKEN_ENV]: token } : {});
    let runId = knownId;
    if (knownId) this.workers.set(knownId, worker);
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (!settled) {
          settled = true;
          fn();
        }
      };
      worker.onMessage((m) => {
        if (m.type === 'ready') worker.send(cmd);
        else if (m.type === 'created') {
          runId = m.runId;
          this.workers.set(m.runId, worker);
          settle(() => resolve(m.runId));
        } else if (m.type === 'event') {
          if (!runId) return;
          if (knownId) settle(() => resolve(runId as string));
          this.push({ kind: 'event', runId, event: m.event as UiRunEvent });
        } else if (m.type === 'done') {
          this.push({ kind: 'status', runId: m.runId, status: m.status, error: null, errorCode: null });
        } else if (m.type === 'error') {
          const err = fromApiError(m.error);
          settle(() => reject(err));
          if (runId) this.push({ kind: 'status', runId, status: 'stopped', error: err.message, errorCode: err.code });
        }
      });
      worker.onExit((code) => {
        if (runId) this.workers.delete(runId);
        settle(() => reject(new Error(`the run worker exited (${code}) before the run started`)));
      });
      if (knownId) settle(() => resolve(knownId));
    });
  }

  /** Stops every worker (server shutdown); runs left `running` are resumable later. */
  closeAll(): void {
    for (const w of this.workers.values()) w.kill();
    this.workers.clear();
  }
}
