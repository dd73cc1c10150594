/**
 * Data-parallel trainers for tests and benchmarks only: the same main thread and the same replica
 * as production (replica.ts), started from a worker entry of their own (testing-worker.ts), so
 * production option types and messages carry none of these switches.
 */
import { DataParallelTrainer, type DataParallelOptions } from './data-parallel.ts';

export interface Instrumentation {
  /** Worker `worker` throws before global step `step`, as a failing step would. */
  failAt?: { worker: number; step: number };
  /**
   * Every worker updates its own replica from its own shard's gradient, with no exchange and no
   * barrier, so the replicas drift apart and the result is not a training run. It measures what the
   * machine gives N threads running the same kernels side by side: the ceiling of any data-parallel
   * scheme built on them (bench:train's "independent" column).
   */
  independentReplicas?: boolean;
}

/** What testing-worker.ts reads from its workerData. */
export interface TestingWorkerData {
  failAtStep?: number;
  independent: boolean;
}

export function createInstrumentedTrainer(
  opts: DataParallelOptions,
  inst: Instrumentation,
): Promise<DataParallelTrainer> {
  return DataParallelTrainer.create(opts, {
    name: 'testing-worker',
    data: (index): TestingWorkerData => ({
      failAtStep: inst.failAt?.worker === index ? inst.failAt.step : undefined,
      independent: inst.independentReplicas === true,
    }),
  });
}
