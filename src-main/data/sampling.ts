import { Rng } from '../util/rng.ts';
import { DataImportError } from './errors.ts';
import { subset, type ImageSet } from './image-set.ts';

export interface FewShotOptions {
  /** How many images to take. */
  n: number;
  seed: number;
  /**
   * Take ⌊n/C⌋ per class over the C classes present, with the remainder going to classes in a
   * seeded order, so per-class counts differ by at most one. Needs labels; unknown (-1) labels
   * are never picked.
   */
  balanced?: boolean;
}

export interface FewShotSample {
  set: ImageSet;
  /** Positions in the source set, in the order the sample holds them. */
  indices: Int32Array;
}

/** A seeded few-shot subset: the same seed and set always give the same indices in the same order. */
export function sampleFewShot(set: ImageSet, opts: FewShotOptions): FewShotSample {
  const { n } = opts;
  if (!Number.isInteger(n) || n < 1) {
    throw new DataImportError(set.source, `sample size must be a positive whole number, got ${n}`);
  }
  const rng = new Rng(opts.seed);
  const indices = opts.balanced ? balancedIndices(set, n, rng) : plainIndices(set, n, rng);
  return { set: subset(set, indices), indices };
}

function plainIndices(set: ImageSet, n: number, rng: Rng): Int32Array {
  if (n > set.count) {
    throw new DataImportError(set.source, `asked for ${n} images but the set has only ${set.count}`);
  }
  const all = Int32Array.from({ length: set.count }, (_, i) => i);
  rng.shuffle(all);
  return all.slice(0, n);
}

function balancedIndices(set: ImageSet, n: number, rng: Rng): Int32Array {
  if (!set.labels) {
    throw new DataImportError(set.source, 'a balanced sample needs labels, and this set is unlabelled');
  }
  const byClass = new Map<number, number[]>();
  set.labels.forEach((label, i) => {
    if (label < 0) return;
    let members = byClass.get(label);
    if (!members) byClass.set(label, (members = []));
    members.push(i);
  });
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const labelled = classes.reduce((sum, c) => sum + byClass.get(c)!.length, 0);
  if (labelled === 0) throw new DataImportError(set.source, 'a balanced sample needs labels, and no image has one');
  if (n > labelled) {
    throw new DataImportError(set.source, `asked for ${n} images but the set has only ${labelled} labelled ones`);
  }

  const base = Math.floor(n / classes.length);
  const quota = new Map(classes.map((c) => [c, base]));
  for (const c of classes) {
    const have = byClass.get(c)!.length;
    if (have < base) {
      throw new DataImportError(
        set.source,
        `class ${className(set, c)} has only ${have} images, but a balanced sample of ${n} over ` +
          `${classes.length} classes needs ${base} from each`,
      );
    }
  }
  // The extra images go to classes in a seeded order, skipping any class that has none to spare.
  let remainder = n - base * classes.length;
  for (const c of rng.shuffle([...classes]) as number[]) {
    if (remainder === 0) break;
    if (byClass.get(c)!.length > base) {
      quota.set(c, base + 1);
      remainder--;
    }
  }
  if (remainder > 0) {
    throw new DataImportError(
      set.source,
      `cannot balance ${n} images over ${classes.length} classes: too few classes have more than ${base} images`,
    );
  }

  const picked: number[] = [];
  for (const c of classes) {
    const members = rng.shuffle([...byClass.get(c)!]) as number[];
    picked.push(...members.slice(0, quota.get(c)));
  }
  // Mixed rather than grouped by class, so batches taken in order do not see one class at a time.
  return rng.shuffle(Int32Array.from(picked)) as Int32Array;
}

function className(set: ImageSet, label: number): string {
  const name = set.classNames?.[label];
  return name ? `${label} (${name})` : String(label);
}
