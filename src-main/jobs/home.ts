import os from 'node:os';
import path from 'node:path';

/** Must equal package.json's productName: Electron names its userData folder after it. */
export const APP_FOLDER = 'Distill Workbench';

/**
 * Where the store and run folders live: the desktop app's `userData` folder, so the app and the
 * CLI share one history. Electron computes it as appData/productName; this mirrors that without
 * importing electron. `--home` or DISTILL_HOME override it.
 */
export function defaultHome(): string {
  if (process.env.DISTILL_HOME) return path.resolve(process.env.DISTILL_HOME);
  const home = os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', APP_FOLDER);
  if (process.platform === 'win32')
    return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), APP_FOLDER);
  return path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), APP_FOLDER);
}
