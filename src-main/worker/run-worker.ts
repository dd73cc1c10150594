/**
 * The process a run trains in, so neither `distill serve` nor Electron's main thread ever blocks.
 * Started by the bridge with child_process.fork, or by the desktop app as a utilityProcess; it
 * speaks the same messages over whichever port it was given. The teacher token, if any, arrives
 * in the environment variable the recipe names, never in a message or on disk.
 */
import { mkdirSync } from 'node:fs';
import { Store } from '../store/store.ts';
import { startRun, resumeRun } from '../jobs/run-distillation.ts';
import { throttleEvents } from './throttle-events.ts';
import { toApiError } from '../util/serialize-error.ts';
import type { WorkerCommand, WorkerMessage } from './worker-messages.ts';

interface Port {
  send(m: WorkerMessage): void;
  onMessage(cb: (m: WorkerCommand) => void): void;
}

function port(): Port {
  const parentPort = (
    process as unknown as {
      parentPort?: { postMessage(m: unknown): void; on(e: 'message', cb: (e: { data: unknown }) => void): void };
    }
  ).parentPort;
  if (parentPort)
    return {
      send: (m) => parentPort.postMessage(m),
      onMessage: (cb) => parentPort.on('message', (e) => cb(e.data as WorkerCommand)),
    };
  if (!process.send) throw new Error('run-worker must be started with an IPC channel');
  return { send: (m) => process.send?.(m), onMessage: (cb) => process.on('message', (m) => cb(m as WorkerCommand)) };
}

async function execute(cmd: WorkerCommand, p: Port): Promise<void> {
  mkdirSync(cmd.home, { recursive: true });
  const store = Store.open(cmd.home);
  const throttle = throttleEvents((event) => p.send({ type: 'event', event }));
  try {
    const opts = { store, home: cmd.home, onEvent: (e: Parameters<typeof throttle.push>[0]) => throttle.push(e) };
    const summary =
      cmd.type === 'start'
        ? await startRun({
            ...opts,
            recipe: cmd.recipe,
            baseDir: cmd.home,
            project: cmd.project,
            // The engine names the run; the front end learns the id the moment the row exists.
            onCreated: (runId) => p.send({ type: 'created', runId }),
          })
        : await resumeRun({ ...opts, runId: cmd.runId, budgetQueries: cmd.budgetQueries });
    throttle.flush();
    p.send({ type: 'done', runId: summary.runId, status: summary.status });
  } catch (err) {
    throttle.flush();
    p.send({ type: 'error', error: toApiError(err) });
  } finally {
    store.close();
  }
}

const p = port();
p.onMessage((cmd) => {
  void execute(cmd, p).finally(() => setTimeout(() => process.exit(0), 50));
});
p.send({ type: 'ready' });
