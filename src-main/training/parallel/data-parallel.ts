/**
 * Data-parallel training across worker threads (the wasm backend runs one thread per instance, so
 * more cores means more instances). Each worker holds a replica of the student on its own backend;
 * images, targets and the epoch's order sit in shared memory, copied once. Every step, each worker
 * trains on its contiguous shard of the global batch, the shards' gradients are averaged through
 * shared memory (weighted by rows, so the result is the full batch's mean gradient), and every
 * replica applies the same Adam update. See worker.ts for the step itself.
 *
 * The main thread keeps the model, the RNG and the callbacks: it shuffles each epoch's order with
 * the run's RNG exactly as the single-core loop does, and after every epoch takes the weights and
 * Adam's state from worker 0, so evaluation, checkpoints (the same TrainState) and resume work as
 * before. With no augmentation and no batch hook the RNG makes the same draws as the single-core
 * loop, so the two differ only by float summation order. Otherwise each worker gets its own RNG per
 * epoch, seeded from the run's RNG, which keeps a run reproducible and resumable from its state.
 *
 * BatchNorm in training mode normalises each worker's shard by that shard's own statistics (a
 * smaller "ghost" batch), so students with BatchNorm train slightly differently from one thread.
 * Their moving mean and variance are averaged over the workers after every run of steps (every
 * epoch), rather than taken from worker 0: the average of the replicas' running means is exactly the
 * running mean of full batches, and setting it back into every replica keeps them identical, so a
 * resume from the epoch's checkpoint continues exactly as the uninterrupted run does.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
// Types only: importing select-backend registers the wasm backend, which a caller that never
// initialises a backend (unit tests on the default cpu backend) must not get as a side effect.
import type { BackendKey } from '../../backends/select-backend.ts';
import type { AugmentOptions } from '../augment.ts';
import type { OptimizerWeight } from '../optimizer-state.ts';
import type { TrainSetup } from '../train-setup.ts';
import type { StepRunner } from '../step-runner.ts';
import { specModules, type HookSpec, type LossSpec } from '../step-registry.ts';
import { CTL } from './shared.ts';
import type { FromWorker, InitMessage, RunMessage, WeightValues } from './protocol.ts';

export interface DataParallelOptions {
  /** Architecture and starting weights; the model itself stays on this thread, untouched. */
  model: tf.LayersModel;
  workers: number;
  images: Float32Array;
  /** count × numClasses target rows. */
  targets: Float32Array;
  count: number;
  dims: { height: number; width: number; channels: number };
  /** The global (effective) batch, split across the workers. */
  batchSize: number;
  learningRate: number;
  loss: LossSpec;
  batchHook?: HookSpec;
  augment?: AugmentOptions;
  /** Adam's state to continue from (TrainState.optimizer). */
  optimizer?: OptimizerWeight[];
  /** Backend for the workers; default: the one this thread runs (wasm or cpu). */
  backend?: BackendKey;
  /** How long a worker waits at a barrier for the others before giving up (default 10 minutes). */
  barrierTimeoutMs?: number;
}

/**
 * The module each worker thread runs, in this folder, and the `workerData` it gets. Production
 * trainers run `worker`; testing.ts starts instrumented replicas through this.
 */
export interface WorkerEntry {
  name: string;
  data?: (index: number) => unknown;
}

const WORKER: WorkerEntry = { name: 'worker' };

export interface RunOptions {
  firstStep: number;
  steps: number;
  /** One seed per worker for augmentation and the batch hook (default: the worker's index). */
  seeds?: number[];
  /** Called with the step number within the epoch (1-based) after each step. */
  onStep?: (step: number) => void;
  /** Bring back worker 0's weights and Adam state with the result. */
  returnState?: boolean;
  /** The learning rate of each step of this run; default: the one the trainer was created with. */
  learningRates?: number[];
}

export interface RunResult {
  /** Σ over the steps of rows × the batch's mean loss. */
  lossSum: number;
  samples: number;
  stepsRun: number;
  stopped: boolean;
  seconds: number;
  state?: { weights: WeightValues[]; optimizer: OptimizerWeight[] };
}

/** The data-parallel workers' backends: the native ones already use every core on their own. */
export function parallelBackend(): BackendKey | undefined {
  const name = tf.getBackend();
  return name === 'wasm' || name === 'cpu' ? name : undefined;
}

function spawnWorker(name: string, workerData: unknown): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from sources (CLI, tests): the worker registers tsx itself, whatever loader the
    // main thread used (tsx's --import hook or bin/distill.js's register()).
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL(`./${name}.ts`, here).href;
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true, execArgv: [], stdout: true, workerData });
  }
  return new Worker(new URL(`./${name}.js`, here), { stdout: true, workerData });
}

type Waiter = { resolve: (m: FromWorker) => void; reject: (e: Error) => void };

export class DataParallelTrainer {
  readonly workers: number;
  /** The order rows are read in: step k trains rows order[(k mod stepsPerEpoch)·B …]. Shared with the workers. */
  readonly order: Int32Array;
  readonly stepsPerEpoch: number;
  private readonly threads: Worker[];
  private readonly control: Int32Array;
  /** The reply each worker owes (one request at a time per worker). */
  private readonly waiters: (Waiter | undefined)[];
  private failure?: Error;
  private disposed = false;
  private onStep?: (step: number) => void;
  private nextStep = 0;

  private constructor(
    private readonly opts: DataParallelOptions,
    private readonly entry: WorkerEntry,
  ) {
    const { workers, count, batchSize } = opts;
    if (!Number.isInteger(workers) || workers < 1)
      throw new Error(`workers must be a positive integer, got ${workers}`);
    if (!Number.isInteger(batchSize) || batchSize < workers)
      throw new Error(`batch size ${batchSize} is smaller than the ${workers} workers`);
    if (count < 1) throw new Error('no training rows');
    this.workers = workers;
    this.stepsPerEpoch = Math.ceil(count / batchSize);
    this.order = new Int32Array(new SharedArrayBuffer(4 * count));
    for (let i = 0; i < count; i++) this.order[i] = i;
    this.control = new Int32Array(new SharedArrayBuffer(4 * CTL.SIZE));
    this.waiters = Array.from({ length: workers }, () => undefined);
    this.threads = [];
  }

  /** `entry` is for testing.ts; every other caller runs the production worker. */
  static async create(opts: DataParallelOptions, entry: WorkerEntry = WORKER): Promise<DataParallelTrainer> {
    const t = new DataParallelTrainer(opts, entry);
    try {
      await t.start();
    } catch (err) {
      await t.dispose();
      throw err;
    }
    return t;
  }

  private async start(): Promise<void> {
    const o = this.opts;
    const backend = o.backend ?? parallelBackend();
    if (!backend) throw new Error(`data-parallel training needs the wasm or cpu backend, not ${tf.getBackend()}`);
    const toShared = (a: Float32Array) => {
      const sab = new SharedArrayBuffer(a.byteLength);
      new Float32Array(sab).set(a);
      return sab;
    };
    const trainable = o.model.trainableWeights.reduce(
      (n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1),
      0,
    );
    const nonTrainable = o.model.nonTrainableWeights.reduce(
      (n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1),
      0,
    );
    const slotSize = Math.max(trainable, nonTrainable, 1);
    const shared = {
      images: toShared(o.images.subarray(0, o.count * o.dims.height * o.dims.width * o.dims.channels)),
      targets: toShared(o.targets),
      order: this.order.buffer as SharedArrayBuffer,
      control: this.control.buffer as SharedArrayBuffer,
      slots: new SharedArrayBuffer(4 * 2 * this.workers * slotSize),
    };
    const weights = o.model
      .getWeights()
      .map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync() as Float32Array) }));
    const topology = o.model.toJSON(null, false) as object;
    const modules = specModules(o.loss, o.batchHook);
    for (let i = 0; i < this.workers; i++) {
      const w = spawnWorker(this.entry.name, this.entry.data?.(i));
      this.threads.push(w);
      // Workers write nothing to stdout on purpose, but keep a stray line off the CLI's --json stdout.
      w.stdout.pipe(process.stderr, { end: false });
      w.on('message', (m: FromWorker) => this.receive(i, m));
      w.on('error', (err) => this.fail(new Error(`training worker ${i} failed: ${err.message}`)));
      w.on('exit', (code) => {
        if (!this.disposed) this.fail(new Error(`training worker ${i} exited unexpectedly (code ${code})`));
      });
    }
    await Promise.all(
      this.threads.map((w, index) => {
        const m: InitMessage = {
          type: 'init',
          index,
          workers: this.workers,
          backend,
          topology,
          weights,
          optimizer: o.optimizer,
          learningRate: o.learningRate,
          modules,
          loss: o.loss,
          batchHook: o.batchHook,
          augment: o.augment ?? { shift: 0, flip: false },
          dims: o.dims,
          count: o.count,
          batchSize: o.batchSize,
          slotSize,
          barrierTimeoutMs: o.barrierTimeoutMs ?? 600_000,
          shared,
        };
        const reply = this.expect(index);
        w.postMessage(m);
        return reply;
      }),
    );
  }

  private expect(index: number): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiters[index] = { resolve, reject }));
  }

  private receive(index: number, m: FromWorker): void {
    if (m.type === 'error') {
      const err = new Error(`training worker ${index} failed: ${m.message}`);
      if (m.stack) err.stack = `${err.message}\n--- in the worker ---\n${m.stack}`;
      this.fail(err);
      return;
    }
    if (m.type === 'step') {
      try {
        this.onStep?.(m.step);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
      return;
    }
    const waiter = this.waiters[index];
    this.waiters[index] = undefined;
    waiter?.resolve(m);
  }

  /** Ends everything at once: wakes workers waiting at a barrier and rejects whatever is pending. */
  private fail(err: Error): void {
    if (this.failure || this.disposed) return;
    this.failure = err;
    Atomics.store(this.control, CTL.ABORT, 1);
    Atomics.notify(this.control, CTL.GENERATION);
    void this.dispose();
  }

  /** Asks the workers to stop after the step in progress (they all stop at the same step). */
  requestStop(): void {
    Atomics.store(this.control, CTL.STOP, 1);
  }

  get stopRequested(): boolean {
    return Atomics.load(this.control, CTL.STOP) !== 0;
  }

  /** Trains steps [firstStep, firstStep + steps) of the current order. */
  async run(r: RunOptions): Promise<RunResult> {
    if (this.failure) throw this.failure;
    if (this.disposed) throw new Error('the data-parallel trainer was disposed');
    const t0 = performance.now();
    this.onStep = r.onStep;
    try {
      const replies = await Promise.all(
        this.threads.map((w, index) => {
          const m: RunMessage = {
            type: 'run',
            firstStep: r.firstStep,
            steps: r.steps,
            seed: r.seeds?.[index] ?? index,
            progress: Boolean(r.onStep),
            returnState: Boolean(r.returnState),
            learningRates: r.learningRates,
          };
          const reply = this.expect(index);
          w.postMessage(m);
          return reply;
        }),
      );
      const done = replies.map((m) => {
        if (m.type !== 'done') throw new Error(`unexpected reply ${m.type} from a training worker`);
        return m;
      });
      return {
        // Summed in worker order, so the figure does not depend on which reply came first.
        lossSum: done.reduce((s, m) => s + m.lossSum, 0),
        samples: done[0].samples,
        stepsRun: done[0].stepsRun,
        stopped: done[0].stopped,
        seconds: (performance.now() - t0) / 1000,
        state: done[0].state,
      };
    } finally {
      this.onStep = undefined;
    }
  }

  /** Benchmark helper: `n` more steps over the current order (wrapping around epochs). */
  async runSteps(n: number): Promise<{ samples: number; seconds: number; samplesPerSecond: number; loss: number }> {
    const r = await this.run({ firstStep: this.nextStep, steps: n });
    this.nextStep += r.stepsRun;
    return {
      samples: r.samples,
      seconds: r.seconds,
      samplesPerSecond: r.samples / r.seconds,
      loss: r.lossSum / r.samples,
    };
  }

  step(): Promise<{ samples: number; seconds: number; samplesPerSecond: number; loss: number }> {
    return this.runSteps(1);
  }

  /** Worker 0's weights and Adam state as of the last run. */
  async state(): Promise<NonNullable<RunResult['state']>> {
    const r = await this.run({ firstStep: this.nextStep, steps: 0, returnState: true });
    return r.state!;
  }

  /** Stops and removes every worker; safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.control, CTL.ABORT, 1);
    Atomics.notify(this.control, CTL.GENERATION);
    const err = this.failure ?? new Error('the data-parallel trainer was disposed');
    this.waiters.forEach((w) => w?.reject(err));
    this.waiters.fill(undefined);
    await Promise.all(this.threads.map((w) => w.terminate()));
  }
}

export function createDataParallelTrainer(opts: DataParallelOptions): Promise<DataParallelTrainer> {
  return DataParallelTrainer.create(opts);
}

/** Sets weights that came back from a worker into a model on this thread. */
export function setModelWeights(model: tf.LayersModel, weights: WeightValues[]): void {
  const tensors = weights.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/**
 * trainStudent's steps run across `workers` threads: the epoch loop (trainer.ts) shuffles the shared
 * order with the run's RNG and keeps the callbacks, checkpoints and resume; after every epoch the
 * model on this thread takes worker 0's weights, and a checkpoint its Adam state.
 */
export async function createDataParallelRunner(s: TrainSetup, workers: number): Promise<StepRunner> {
  if (!s.loss || s.objective) throw new Error('data-parallel training needs a loss spec and no objective');
  const trainer = await DataParallelTrainer.create({
    model: s.model,
    workers,
    images: s.images,
    targets: s.targets,
    count: s.count,
    dims: s.dims,
    batchSize: s.batchSize,
    learningRate: s.learningRate,
    loss: s.loss,
    batchHook: s.batchHook,
    augment: s.augment,
    optimizer: s.resume?.optimizer,
  });
  // Per-worker RNGs are drawn only when something random happens inside a step, so without
  // augmentation or a hook the run's RNG sees exactly the single-core loop's draws.
  const random = Boolean(s.augment.shift || s.augment.flip || s.batchHook);
  const steps = trainer.stepsPerEpoch;
  return {
    stepsPerEpoch: steps,
    order: trainer.order,
    // A request after the last step of an epoch reaches no exchange in it.
    get stopPending() {
      return trainer.stopRequested;
    },
    async runEpoch(e) {
      const seeds = random ? Array.from({ length: workers }, () => s.rng.fork()) : undefined;
      const r = await trainer.run({
        firstStep: 0,
        steps,
        seeds,
        learningRates: e.rates,
        returnState: true,
        onStep: (step) => {
          e.onStep(step);
          if (e.shouldStop()) trainer.requestStop();
        },
      });
      // The model on this thread follows the replicas, as the single-core loop's model would.
      setModelWeights(s.model, r.state!.weights);
      const optimizer = r.state!.optimizer;
      return { lossSum: r.lossSum, samples: r.samples, stopped: r.stopped, optimizer: async () => optimizer };
    },
    dispose: () => trainer.dispose(),
  };
}
