/**
 * The Electron shell: deliberately thin. It hardens the window and forwards the typed API to
 * the engine; all work happens in engine modules that never import electron.
 * (The full wizard, utility-process training and packaging are tracked as their own issue.)
 */
import { app, BrowserWindow, ipcMain, session } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isApiChannel } from '../api/contract.ts';
import { listStudents } from '../students/index.ts';
import { describeStudent } from '../students/describe.ts';
import { ENGINE_VERSION } from '../jobs/run-distillation.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const windows = new Set<number>();

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      preload: path.join(here, 'preload.cjs'),
    },
  });
  windows.add(win.webContents.id);
  win.on('closed', () => windows.delete(win.webContents.id));
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  void win.loadFile(path.join(here, '..', '..', 'src-renderer', 'index.html'));
}

app.whenReady().then(() => {
  // The store and run folders follow the platform convention for app data (the CLI's default too).
  process.env.DISTILL_HOME ??= app.getPath('userData');
  session.defaultSession.webRequest.onHeadersReceived((details, cb) => {
    cb({
      responseHeaders: {
        ...details.responseHeaders,
        'Content-Security-Policy': ["default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"],
      },
    });
  });
  ipcMain.handle('api', (event, channel: unknown) => {
    if (!windows.has(event.sender.id)) throw new Error('IPC from an unknown sender');
    if (!isApiChannel(channel)) throw new Error('unknown API channel');
    if (channel === 'engine:version') return { version: ENGINE_VERSION };
    return listStudents().map((s) => {
      const m = s.build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
      const d = describeStudent(m);
      m.dispose();
      return { key: s.key, title: s.title, params: d.params, flops: d.flops };
    });
  });
  createWindow();
});

app.on('window-all-closed', () => app.quit());
