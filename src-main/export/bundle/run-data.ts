/**
 * The images an export of a run is calibrated and judged on, rebuilt from the run's recipe:
 * calibration on the run's own local images (re-drawn with the recipe's seed and checked against
 * the fingerprint the run recorded), evaluation on the recipe's held-out set.
 */
import { loadDataset } from '../../data/load-dataset.ts';
import { sampleFewShot } from '../../data/sampling.ts';
import { fingerprintImageSet } from '../../data/fingerprint.ts';
import { subset, type ImageSet } from '../../data/image-set.ts';
import { resolveSource } from '../../recipe/resolve-source.ts';
import { Rng } from '../../util/rng.ts';
import type { LocatedRun } from '../locate-run.ts';
import type { CalibrationSet } from '../precisions.ts';
import type { EvalSet } from '../verify-precision.ts';
import { readTeacherManifest } from '../../teachers/onnx-local-teacher.ts';
import { resolveRecipePath } from '../../recipe/load-recipe.ts';

export interface RunData {
  calibration: CalibrationSet & { source: string; matchesRunFingerprint: boolean };
  evaluation: EvalSet & { heldOut: boolean };
  classNames: string[];
}

export interface RunDataOptions {
  /** Folder that relative recipe paths are resolved against (the recipe file's folder). */
  baseDir: string;
  /** Calibration images taken from the local set. Default 300. */
  calibrationImages?: number;
  /** Cap on evaluation images; default the recipe's testLimit, else all. */
  evaluationLimit?: number;
}

function dims(set: ImageSet) {
  return { height: set.height, width: set.width, channels: set.channels };
}

export function loadRunData(run: LocatedRun, opts: RunDataOptions): RunData {
  const { recipe, summary } = run;
  const trainSource = resolveSource(recipe.data.train, opts.baseDir);
  const fullTrain = loadDataset(trainSource.spec);
  // Same draw as the run: the sample seed is the first value forked from the recipe seed.
  const rng = new Rng(recipe.seed);
  const local = sampleFewShot(fullTrain, { n: recipe.data.n, seed: rng.fork(), balanced: recipe.data.balanced }).set;
  const matchesRunFingerprint = fingerprintImageSet(local) === summary.data.fingerprint;
  const calCount = Math.min(opts.calibrationImages ?? 300, local.count);
  const calibration = {
    images: local.images,
    count: calCount,
    dims: dims(local),
    source: `${calCount} of the run's ${local.count} local images (${trainSource.label})`,
    matchesRunFingerprint,
  };

  let evalSet: ImageSet;
  let heldOut = true;
  let source: string;
  if (recipe.data.test) {
    const testSource = resolveSource(recipe.data.test, opts.baseDir);
    evalSet = loadDataset(testSource.spec);
    source = testSource.label;
  } else {
    // Without a held-out set the local images are all there is; the card says so.
    evalSet = local;
    heldOut = false;
    source = `the run's local images (${trainSource.label}); the recipe has no held-out set`;
  }
  const limit = opts.evaluationLimit ?? recipe.data.testLimit;
  if (limit && evalSet.count > limit)
    evalSet = subset(
      evalSet,
      Array.from({ length: limit }, (_, i) => i),
    );
  const classNames =
    recipe.teacher.classNames ??
    manifestClassNames(recipe.teacher.model, opts.baseDir) ??
    evalSet.classNames ??
    fullTrain.classNames ??
    Array.from({ length: summary.teacher.numClasses }, (_, i) => `class ${i}`);
  return {
    calibration,
    evaluation: {
      images: evalSet.images,
      count: evalSet.count,
      dims: dims(evalSet),
      labels: heldOut ? evalSet.labels : undefined,
      source,
      heldOut,
    },
    classNames,
  };
}

/**
 * The student's outputs are the teacher's classes, so the teacher's names are the right labels.
 * The run summary does not record them yet; a local teacher's manifest does.
 */
function manifestClassNames(model: string | undefined, baseDir: string): string[] | undefined {
  if (!model?.endsWith('.json')) return undefined;
  try {
    return readTeacherManifest(resolveRecipePath(model, baseDir)).classNames;
  } catch {
    return undefined;
  }
}
