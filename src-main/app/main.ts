/**
 * The Electron shell: deliberately thin. It hardens the window, serves the renderer over app://,
 * and wires IPC to the same service the browser bridge uses (src-main/service/api-service.ts),
 * behind the electron-free guard (src-main/bridge/ipc-guard.ts). Training runs in utility
 * processes; tokens go to safeStorage.
 */
import { app, BrowserWindow, dialog, ipcMain, session, shell, type IpcMainInvokeEvent } from 'electron';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPC, SHELL_API, ContractError, type RunPush } from '../api/contract.ts';
import { createApiService, type ApiService } from '../service/api-service.ts';
import { RunManager } from '../worker/run-manager.ts';
import { APP_ORIGIN, checkSender, guardIpc } from '../bridge/ipc-guard.ts';
import { tarGzFolder } from '../bridge/tar-gz.ts';
import { replyOrFailure } from '../util/serialize-error.ts';
import { registerAppScheme, serveRenderer } from './app-protocol.ts';
import { launchUtilityWorker } from './utility-worker.ts';
import { SafeStorageVault } from './safe-storage-vault.ts';
import { buildMenu } from './menu.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const windows = new Map<number, BrowserWindow>();
const isOurWindow = (id: number) => windows.has(id);

registerAppScheme();

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1200,
    height: 850,
    show: false,
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      preload: path.join(here, 'preload.cjs'),
    },
  });
  const id = win.webContents.id;
  windows.set(id, win);
  win.on('closed', () => windows.delete(id));
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

/** Shell requests: native dialogs and the file manager, after the same sender and schema checks. */
async function handleShell(
  service: ApiService,
  event: IpcMainInvokeEvent,
  channel: unknown,
  payload: unknown,
): Promise<unknown> {
  checkSender(event, isOurWindow);
  if (typeof channel !== 'string' || !Object.prototype.hasOwnProperty.call(SHELL_API, channel))
    throw new ContractError('unknown shell channel');
  const parsed = SHELL_API[channel as keyof typeof SHELL_API].safeParse(payload);
  if (!parsed.success) throw new ContractError(`${channel}: ${parsed.error.message}`);
  const win = BrowserWindow.fromWebContents(event.sender) ?? undefined;
  const req = parsed.data as { title?: string; runId?: string };
  if (channel === 'shell:pick-folder') {
    const r = win
      ? await dialog.showOpenDialog(win, { title: req.title, properties: ['openDirectory'] })
      : await dialog.showOpenDialog({ properties: ['openDirectory'] });
    return r.canceled ? null : r.filePaths[0];
  }
  const dir = service.bundleDir(service.store.getRun(req.runId ?? '').id);
  if (channel === 'shell:reveal') {
    shell.showItemInFolder(dir);
    return null;
  }
  const r = await dialog.showSaveDialog({
    defaultPath: `distill-bundle-${req.runId}.tar.gz`,
    filters: [{ name: 'Bundle', extensions: ['tar.gz'] }],
  });
  if (r.canceled || !r.filePath) return null;
  writeFileSync(r.filePath, tarGzFolder(dir, `distill-bundle-${req.runId}`));
  return r.filePath;
}

app.on('web-contents-created', (_e, contents) => {
  // Navigation and new-window guards: our page stays our page.
  contents.on('will-navigate', (e, url) => {
    if (!url.startsWith(`${APP_ORIGIN}/`)) e.preventDefault();
  });
  contents.on('will-redirect', (e, url) => {
    if (!url.startsWith(`${APP_ORIGIN}/`)) e.preventDefault();
  });
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
});

app.whenReady().then(() => {
  // The store and run folders follow the platform convention for app data (the CLI's default too).
  const home = (process.env.DISTILL_HOME ??= app.getPath('userData'));
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, done) => done(false));
  serveRenderer();
  const service = createApiService({
    home,
    vault: new SafeStorageVault(app.getPath('userData')),
    runs: new RunManager(home, launchUtilityWorker),
  });
  // Both answer an ApiReply rather than throw: Electron would pass a thrown error's message only.
  ipcMain.handle(IPC.api, replyOrFailure(guardIpc({ isOurWindow, dispatch: (c, r) => service.dispatch(c, r) })));
  ipcMain.handle(
    IPC.shell,
    replyOrFailure((event: IpcMainInvokeEvent, channel: unknown, payload: unknown) =>
      handleShell(service, event, channel, payload),
    ),
  );
  service.runs.onPush((p: RunPush) => {
    for (const w of windows.values()) w.webContents.send(IPC.runPush, p);
  });
  buildMenu({ home, newWindow: createWindow });
  createWindow();
  app.on('before-quit', () => service.close());
});

app.on('window-all-closed', () => app.quit());
