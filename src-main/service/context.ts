/** What every service module shares: the home folder, its store, the run workers and the tokens. */
import path from 'node:path';
import type { ApiChannel, ApiParsedRequest, ApiResponses } from '../api/contract.ts';
import type { Store } from '../store/store.ts';
import { initBackend } from '../backends/select-backend.ts';
import type { RunManager } from '../worker/run-manager.ts';
import type { SecretVault } from './secret-vault.ts';

export type ApiHandlers = { [C in ApiChannel]: (req: ApiParsedRequest<C>) => Promise<ApiResponses[C]> };

export interface ServiceContext {
  home: string;
  store: Store;
  runs: RunManager;
  vault: SecretVault;
  /** The vault key each run started here was given its teacher token under (resume, evaluate). */
  tokenKeys: Map<string, string | undefined>;
  /** The token stored under `key`; undefined for none; throws when the key has no token. */
  tokenFor(key: string | undefined): string | undefined;
  /** Initialises the tfjs backend once, on first use. */
  ensureBackend(): Promise<unknown>;
  /** Where `export:bundle` writes a run's bundle. */
  bundleDir(runId: string): string;
}

export function createContext(home: string, store: Store, runs: RunManager, vault: SecretVault): ServiceContext {
  let backend: Promise<unknown> | undefined;
  return {
    home,
    store,
    runs,
    vault,
    tokenKeys: new Map(),
    tokenFor(key) {
      if (!key) return undefined;
      const t = vault.get(key);
      if (t === undefined) throw new Error(`no token stored under "${key}"; enter it again`);
      return t;
    },
    ensureBackend: () => (backend ??= initBackend()),
    bundleDir: (runId) => path.join(home, 'bundles', runId),
  };
}
