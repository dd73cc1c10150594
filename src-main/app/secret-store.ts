/**
 * Teacher tokens in the desktop app: encrypted with Electron's safeStorage (the OS keychain,
 * DPAPI or libsecret) into a file of their own under userData — never into the SQLite store,
 * recipes, logs or exports. The engine receives a token only as a value in teacher settings.
 */
import { safeStorage } from 'electron';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class SecretStore {
  private readonly file: string;

  constructor(userDataDir: string) {
    this.file = path.join(userDataDir, 'teacher-secrets.json');
  }

  private read(): Record<string, string> {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>) : {};
  }

  /** Stores `token` for a teacher identity; refuses where the OS offers no encryption. */
  set(teacherKey: string, token: string): void {
    if (!safeStorage.isEncryptionAvailable())
      throw new Error(
        'the operating system offers no secure storage; use an environment variable with the CLI instead',
      );
    const all = this.read();
    all[teacherKey] = safeStorage.encryptString(token).toString('base64');
    writeFileSync(`${this.file}.tmp`, JSON.stringify(all), { mode: 0o600 });
    renameSync(`${this.file}.tmp`, this.file);
  }

  get(teacherKey: string): string | undefined {
    const enc = this.read()[teacherKey];
    return enc ? safeStorage.decryptString(Buffer.from(enc, 'base64')) : undefined;
  }

  delete(teacherKey: string): void {
    const all = this.read();
    delete all[teacherKey];
    writeFileSync(this.file, JSON.stringify(all), { mode: 0o600 });
  }
}
