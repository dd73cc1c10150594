/** Launches run workers as Electron utility processes (off the main thread, own crash domain). */
import { utilityProcess } from 'electron';
import type { LaunchWorker } from '../worker/run-manager.ts';
import { RUN_WORKER, WORKER_EXEC_ARGV } from '../worker/run-manager.ts';
import type { WorkerMessage } from '../worker/worker-messages.ts';

export const launchUtilityWorker: LaunchWorker = (env) => {
  const child = utilityProcess.fork(RUN_WORKER, [], {
    execArgv: WORKER_EXEC_ARGV,
    env: { ...process.env, ...env },
    serviceName: 'Distill training',
    stdio: 'inherit',
  });
  return {
    send: (cmd) => child.postMessage(cmd),
    onMessage: (cb) => child.on('message', (m) => cb(m as WorkerMessage)),
    onExit: (cb) => child.on('exit', (code) => cb(code)),
    kill: () => void child.kill(),
  };
};
