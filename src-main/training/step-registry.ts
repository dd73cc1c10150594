/**
 * Losses and batch hooks by name. A method says what a training step computes as data, a spec
 * `{ key, kwargs }` (the way torchdistill names its criteria in config), and the one-thread loop and
 * every data-parallel worker build the same function from that one spec: closures cannot cross into
 * worker threads, a spec can.
 *
 * The module that defines an entry registers it, with its own URL (methods register theirs), so
 * training/ depends on no method. A worker starts with an empty registry: the trainer sends it the
 * URLs of the modules its specs came from (specModules), and the worker imports them
 * (loadSpecModules) before it resolves the specs.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.ts';

/** Student logits [B, C] and target rows [B, C] to the batch's mean loss. */
export type BatchLoss = (logits: tf.Tensor2D, targets: tf.Tensor2D) => tf.Scalar;

/** In-place edit of the first n rows of a gathered batch (images and targets), after augmentation. */
export type BatchHook = (images: Float32Array, targets: Float32Array, n: number, rng: Rng) => void;

/** Values per image and per target row of the batches a hook will edit. */
export interface BatchShape {
  per: number;
  C: number;
}

/** Arguments of an entry: plain data (structured-cloneable), since they travel to the workers. */
export type SpecKwargs = Record<string, unknown>;

export interface LossSpec {
  readonly key: string;
  readonly kwargs: SpecKwargs;
}

export interface HookSpec {
  readonly key: string;
  readonly kwargs: SpecKwargs;
}

interface Entry<F> {
  module: string;
  build: (kwargs: SpecKwargs, shape: BatchShape) => F;
}

const losses = new Map<string, Entry<BatchLoss>>();
const hooks = new Map<string, Entry<BatchHook>>();

/** The spec constructor an entry's module exports; kwargs may be left out when none is required. */
export type SpecMaker<K extends SpecKwargs, S> = (...kwargs: Partial<K> extends K ? [kwargs?: K] : [kwargs: K]) => S;

function define<F, K extends SpecKwargs, S extends LossSpec | HookSpec>(
  what: string,
  table: Map<string, Entry<F>>,
  module: string,
  key: string,
  build: (kwargs: K, shape: BatchShape) => F,
): SpecMaker<K, S> {
  const known = table.get(key);
  if (known && known.module !== module)
    throw new Error(`${what} "${key}" is registered twice: by ${known.module} and by ${module}`);
  table.set(key, { module, build: build as Entry<F>['build'] });
  // A clone both checks that the kwargs can reach a worker and keeps the spec from changing later.
  return ((kwargs?: K) => Object.freeze({ key, kwargs: Object.freeze(structuredClone(kwargs ?? {})) })) as SpecMaker<
    K,
    S
  >;
}

/**
 * Registers loss `key`, built from its kwargs by `build`; `module` is the defining module's
 * `import.meta.url`, which a worker imports to find the entry. Returns the spec constructor.
 */
export function defineLoss<K extends SpecKwargs = Record<never, never>>(
  module: string,
  key: string,
  build: (kwargs: K) => BatchLoss,
): SpecMaker<K, LossSpec> {
  return define<BatchLoss, K, LossSpec>('loss', losses, module, key, (kwargs) => build(kwargs));
}

/** Registers batch hook `key`, as defineLoss does; `build` also gets the shape of the batch rows. */
export function defineHook<K extends SpecKwargs = Record<never, never>>(
  module: string,
  key: string,
  build: (kwargs: K, shape: BatchShape) => BatchHook,
): SpecMaker<K, HookSpec> {
  return define<BatchHook, K, HookSpec>('batch hook', hooks, module, key, build);
}

function entry<F>(what: string, table: Map<string, Entry<F>>, key: string): Entry<F> {
  const e = table.get(key);
  if (!e)
    throw new Error(
      `unknown ${what} "${key}"; known: ${[...table.keys()].sort().join(', ') || 'none (is the module that defines it imported?)'}`,
    );
  return e;
}

export function resolveLoss(spec: LossSpec): BatchLoss {
  return entry('loss', losses, spec.key).build(spec.kwargs, { per: 0, C: 0 });
}

export function resolveHook(spec: HookSpec, shape: BatchShape): BatchHook {
  return entry('batch hook', hooks, spec.key).build(spec.kwargs, shape);
}

/** The modules that define these specs' entries, for a worker to import. */
export function specModules(loss: LossSpec, hook?: HookSpec): string[] {
  const modules = [entry('loss', losses, loss.key).module];
  if (hook) modules.push(entry('batch hook', hooks, hook.key).module);
  return [...new Set(modules)];
}

/** Imports the modules specModules named (in a worker), which registers their entries here too. */
export async function loadSpecModules(modules: string[]): Promise<void> {
  for (const m of modules) await import(m);
}
