/**
 * How many threads training runs on. (The losses and batch hooks a step computes, which used to be
 * described here, are specs in ../step-registry.ts.)
 */
import os from 'node:os';

/** Environment variable with the default worker count when neither the recipe nor the CLI sets one. */
export const WORKERS_ENV_VAR = 'DISTILL_WORKERS';

/** Whether neither the recipe, the CLI nor DISTILL_WORKERS chose the worker count. */
export function workersByDefault(requested?: number): boolean {
  return requested === undefined && !process.env[WORKERS_ENV_VAR]?.trim();
}

/**
 * Below this many forward FLOPs per trainable parameter per step, worker threads do not pay on
 * their own: every step each replica copies, sums and applies Adam to all the parameters, and
 * there is too little arithmetic to split to make up for it. Measured with 2 workers against one
 * thread on the 2-core machine (docs/results/training-speed/), FLOPs per parameter per step in
 * brackets: mlp at batch 64 (128) 0.39–0.51×, at 256 (512) 0.81–0.94×, at 512 (1,024) 1.32×;
 * lenet5-half at 64 (561) 0.88–1.13×; lenet5 at 64 (877) 1.10–1.29×; mobilenet-tiny at 64 (4,300)
 * 1.01–1.11×; resnet8 at 64 (15,400) 1.50–1.76×. The line sits between the slowest case and the
 * break-even one. Applies only to the default worker count; an explicit one is obeyed.
 */
export const MIN_FLOPS_PER_PARAM_STEP = 550;

/**
 * The number of training threads: the explicit setting (recipe `training.workers`, `--workers`),
 * else DISTILL_WORKERS, else every core the machine offers.
 */
export function resolveWorkers(requested?: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1)
      throw new Error(`workers must be a positive integer, got ${requested}`);
    return requested;
  }
  const env = process.env[WORKERS_ENV_VAR]?.trim();
  if (env) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${WORKERS_ENV_VAR}='${env}' is not a positive integer`);
    return n;
  }
  return os.availableParallelism();
}
