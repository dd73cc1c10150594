/** The worker entry of testing.ts: the production replica with its switches for tests and benchmarks. */
import { workerData } from 'node:worker_threads';
import { CTL } from './shared.ts';
import { allReduce, serve, type Exchange } from './replica.ts';
import type { TestingWorkerData } from './testing.ts';

/** No exchange: each replica applies its own shard's mean gradient and never waits for the others. */
const independent: Exchange = {
  share: () => 1,
  gradients: (r, slot, total) => {
    r.sum.set(slot.subarray(0, total));
    return Atomics.load(r.control, CTL.STOP) !== 0;
  },
  nonTrainable: () => {},
};

const data = workerData as TestingWorkerData;

serve({
  exchange: data.independent ? independent : allReduce,
  beforeStep: (k) => {
    if (k === data.failAtStep) throw new Error(`injected failure at step ${k}`);
  },
});
