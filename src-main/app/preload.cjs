// Exposes only the typed API entry points; the renderer never sees ipcRenderer itself. Sandboxed
// preloads cannot import the contract, so the three IPC names are restated here (contract.ts IPC).
const { contextBridge, ipcRenderer } = require('electron');
const IPC = { api: 'distill:api', shell: 'distill:shell', runPush: 'distill:run-push' };
contextBridge.exposeInMainWorld('distill', {
  call: (channel, request) => ipcRenderer.invoke(IPC.api, channel, request ?? {}),
  shell: (channel, request) => ipcRenderer.invoke(IPC.shell, channel, request ?? {}),
  onRunPush: (cb) => {
    const listener = (_event, push) => cb(push);
    ipcRenderer.on(IPC.runPush, listener);
    return () => ipcRenderer.removeListener(IPC.runPush, listener);
  },
});
