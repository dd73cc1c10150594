/** Failures of the export pipeline, one class per cause, so front ends can say what to do. */
import { DistillError, type ErrorCode } from '../util/errors.ts';

export class ExportError extends DistillError {
  readonly code: ErrorCode = 'export-failed';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Thrown when calibration images are missing or drive an activation to NaN/Infinity. */
export class CalibrationError extends ExportError {
  override readonly code = 'calibration-failed';
}

/** Thrown when a graph holds an operator arrangement the int8 pass cannot quantize. */
export class QuantizationError extends ExportError {
  override readonly code = 'quantization-failed';
}

/**
 * Thrown when an ONNX export differs from the tfjs student by more than the parity bound: by
 * `distill export`'s per-precision check and by a run's own export step.
 */
export class ParityError extends ExportError {
  override readonly code = 'parity-failed';
}

/** Thrown for an unknown precision name. */
export class UnknownPrecisionError extends ExportError {
  override readonly code = 'unknown-precision';
}
