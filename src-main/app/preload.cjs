// Exposes only the typed API entry point; the renderer never sees ipcRenderer itself.
const { contextBridge, ipcRenderer } = require('electron');
contextBridge.exposeInMainWorld('distill', {
  call: (channel, request) => ipcRenderer.invoke('api', channel, request ?? {}),
});
