/**
 * `signature.json`: everything a program needs to feed the model and read its answer, so that the
 * examples (and any user code) preprocess exactly as the engine did during distillation.
 * The engine's images are NHWC float32 in [0, 1]: 8-bit pixels / 255, greyscale by ITU-R BT.601
 * luma when the model has one channel, bilinear resize sampling at pixel centres.
 */
import type { PrecisionArtifact, Precision } from '../precisions.ts';
import { PRECISION_FILES } from '../precisions.ts';

export const SIGNATURE_VERSION = 1;

export interface BundleSignature {
  schemaVersion: number;
  opset: number;
  input: {
    name: string;
    /** Batch first ('N' is dynamic), then the dimensions in `layout` order. */
    shape: (number | string)[];
    layout: 'NCHW' | 'NHWC';
    dtype: 'float32';
    height: number;
    width: number;
    channels: number;
    colorMode: 'grayscale' | 'rgb';
    /** Weights for turning RGB into grey when colorMode is grayscale. */
    grayscaleWeights: [number, number, number];
    resize: { method: 'bilinear'; halfPixelCenters: true };
    /** x = ((pixel / 255) * (scale[1] - scale[0]) + scale[0] - mean[c]) / std[c] */
    normalization: { scale: [number, number]; mean: number[]; std: number[] };
  };
  output: {
    name: string;
    shape: (number | string)[];
    kind: 'logits';
    /** What turns the output into class probabilities. */
    postprocess: 'softmax';
  };
  classNames: string[];
  models: { precision: Precision; file: string; bytes: number }[];
}

export function buildSignature(
  artifacts: PrecisionArtifact[],
  dims: { height: number; width: number; channels: number },
  classNames: string[],
): BundleSignature {
  const a = artifacts[0];
  return {
    schemaVersion: SIGNATURE_VERSION,
    opset: a.opset,
    input: {
      name: a.inputName,
      shape: a.inputShape,
      layout: a.inputLayout,
      dtype: 'float32',
      ...dims,
      colorMode: dims.channels === 1 ? 'grayscale' : 'rgb',
      grayscaleWeights: [0.299, 0.587, 0.114],
      resize: { method: 'bilinear', halfPixelCenters: true },
      normalization: { scale: [0, 1], mean: new Array(dims.channels).fill(0), std: new Array(dims.channels).fill(1) },
    },
    output: { name: a.outputName, shape: ['N', classNames.length], kind: 'logits', postprocess: 'softmax' },
    classNames,
    models: artifacts.map((x) => ({
      precision: x.precision,
      file: PRECISION_FILES[x.precision],
      bytes: x.bytes.length,
    })),
  };
}
