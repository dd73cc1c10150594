import os from 'node:os';
import path from 'node:path';

/**
 * Where runs and (later) the project store live, following platform conventions. The Electron
 * app passes its `userData` folder; the CLI uses the same folder unless `--home` or DISTILL_HOME says otherwise.
 */
export function defaultHome(): string {
  if (process.env.DISTILL_HOME) return path.resolve(process.env.DISTILL_HOME);
  const home = os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Distill Workbench');
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Distill Workbench');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'distill-workbench');
}
