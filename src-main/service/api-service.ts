/**
 * The engine side of the API contract, implemented once and assembled here from one module per
 * channel group. The browser bridge and the Electron IPC both hand a request to `dispatch` (after
 * their own sender checks); nothing here knows which front end asked. Errors are thrown as they
 * are: each transport turns them into its reply (bridge-server.ts, Electron's invoke).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseRequest } from '../api/contract.ts';
import { ENGINE_VERSION } from '../jobs/run-distillation.ts';
import { Store } from '../store/store.ts';
import { RunManager } from '../worker/run-manager.ts';
import type { SecretVault } from './secret-vault.ts';
import { createContext, type ApiHandlers } from './context.ts';
import { projectHandlers } from './projects.ts';
import { teacherHandlers } from './teachers.ts';
import { dataHandlers } from './data.ts';
import { studentHandlers } from './students.ts';
import { methodHandlers } from './methods.ts';
import { runHandlers } from './runs.ts';
import { runHistoryHandlers } from './run-history.ts';
import { evaluateHandlers } from './evaluate.ts';
import { exportHandlers } from './export.ts';

export type { ApiHandlers } from './context.ts';

export interface ApiService {
  handlers: ApiHandlers;
  runs: RunManager;
  store: Store;
  /** Validates against the contract, then runs the handler. Throws ContractError on a bad request. */
  dispatch(channel: unknown, payload: unknown): Promise<unknown>;
  /** Where `export:bundle` wrote a run's bundle. */
  bundleDir(runId: string): string;
  close(): void;
}

export function createApiService(opts: { home: string; vault: SecretVault; runs?: RunManager }): ApiService {
  const home = path.resolve(opts.home);
  mkdirSync(home, { recursive: true });
  const store = Store.open(home);
  const runs = opts.runs ?? new RunManager(home);
  const ctx = createContext(home, store, runs, opts.vault);
  const handlers: ApiHandlers = {
    'engine:version': async () => ({ version: ENGINE_VERSION }),
    ...projectHandlers(ctx),
    ...teacherHandlers(ctx),
    ...dataHandlers(),
    ...studentHandlers(ctx),
    ...methodHandlers(),
    ...runHandlers(ctx),
    ...runHistoryHandlers(ctx),
    ...evaluateHandlers(ctx),
    ...exportHandlers(ctx),
  };

  return {
    handlers,
    runs,
    store,
    bundleDir: ctx.bundleDir,
    async dispatch(channel, payload) {
      const { channel: c, request } = parseRequest(channel, payload);
      return (handlers[c] as (r: unknown) => Promise<unknown>)(request);
    },
    close() {
      runs.closeAll();
      store.close();
    },
  };
}
