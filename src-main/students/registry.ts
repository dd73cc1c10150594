/**
 * The student zoo: small architectures a teacher can be distilled into. Each
 * architecture lives in its own module and registers itself here on import, so the
 * set of students is open to extension without touching the registry.
 */
import type * as tf from '@tensorflow/tfjs';

export interface StudentBuildOptions {
  /** Input size without the batch axis, NHWC order: [height, width, channels]. */
  inputShape: [number, number, number];
  numClasses: number;
  /** Same seed, same initial weights: every kernel initializer draws from it. */
  seed: number;
}

export interface StudentSpec {
  key: string;
  title: string;
  description: string;
  /** Returns an uncompiled model whose output is logits (no softmax). */
  build(opts: StudentBuildOptions): tf.LayersModel;
}

const registry = new Map<string, StudentSpec>();

export function registerStudent(spec: StudentSpec): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(spec.key)) {
    throw new Error(`Student key "${spec.key}" must be lower-case letters, digits and dashes`);
  }
  const existing = registry.get(spec.key);
  // Re-registering the very same spec is harmless (a module evaluated twice); a
  // different spec under a taken key would silently change what a recipe means.
  if (existing && existing !== spec) {
    throw new Error(`Student "${spec.key}" is already registered`);
  }
  registry.set(spec.key, spec);
}

export function getStudent(key: string): StudentSpec {
  const spec = registry.get(key);
  if (!spec) {
    const valid = [...registry.keys()].sort();
    throw new Error(
      `Unknown student "${key}". Valid students: ${valid.length ? valid.join(', ') : '(none registered; import students/index.ts)'}`,
    );
  }
  return spec;
}

export function listStudents(): StudentSpec[] {
  return [...registry.values()].sort((a, b) => a.key.localeCompare(b.key));
}
