import type { MethodContext } from './method.ts';
import { trainStudent, type TrainResult, type TrainSetup } from '../training/trainer.ts';

/**
 * trainStudent as a method runs it: the run's student, training settings, RNG, log, progress, stop
 * request and checkpoint hooks from `ctx`, the local images' dimensions, and what the method trains
 * on with its loss. Anything in `s` overrides the context (a phase's epochs, a helper model that
 * reports no progress).
 */
export function trainOnContext(
  ctx: MethodContext,
  s: Pick<TrainSetup, 'images' | 'targets' | 'count'> & Partial<TrainSetup>,
): Promise<TrainResult> {
  const { height, width, channels } = ctx.local;
  return trainStudent({
    model: ctx.model,
    dims: { height, width, channels },
    ...ctx.training,
    rng: ctx.rng,
    log: (m) => ctx.log(m),
    onEpoch: (e) => ctx.onEpoch(e),
    onStep: (p) => ctx.onStep(p),
    shouldStop: () => ctx.shouldStop(),
    resume: ctx.resume,
    ...s,
  });
}
