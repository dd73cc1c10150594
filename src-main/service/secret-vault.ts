/**
 * Where the UI's teacher tokens live. The browser bridge keeps them in this process's memory only
 * (gone when `distill serve` stops); the desktop app supplies a safeStorage-backed one. Tokens
 * never enter the store, recipes, logs or replies to the UI.
 */
export interface SecretVault {
  set(key: string, token: string): void;
  get(key: string): string | undefined;
  /** Where tokens go, in words, for the UI. */
  readonly where: string;
}

export class MemoryVault implements SecretVault {
  private readonly tokens = new Map<string, string>();
  readonly where = 'memory of this distill serve process (not written to disk)';

  set(key: string, token: string): void {
    this.tokens.set(key, token);
  }

  get(key: string): string | undefined {
    return this.tokens.get(key);
  }
}
