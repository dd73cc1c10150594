/** The desktop app's SecretVault: tokens encrypted with safeStorage (see secret-store.ts). */
import type { SecretVault } from '../service/secret-vault.ts';
import { SecretStore } from './secret-store.ts';

export class SafeStorageVault implements SecretVault {
  private readonly store: SecretStore;
  readonly where = "the operating system's keychain (Electron safeStorage)";

  constructor(userDataDir: string) {
    this.store = new SecretStore(userDataDir);
  }

  set(key: string, token: string): void {
    this.store.set(key, token);
  }

  get(key: string): string | undefined {
    return this.store.get(key);
  }
}
