/** Failures of the export pipeline, one class per cause, so front ends can say what to do. */

export class ExportError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Thrown when calibration images are missing or drive an activation to NaN/Infinity. */
export class CalibrationError extends ExportError {}

/** Thrown when a graph holds an operator arrangement the int8 pass cannot quantize. */
export class QuantizationError extends ExportError {}

/** Thrown when an fp32 export differs from the tfjs student by more than the parity bound. */
export class ParityError extends ExportError {}

/** Thrown when `distill export` is pointed at a run that does not exist or is incomplete. */
export class RunNotFoundError extends ExportError {}

/** Thrown for an unknown precision name. */
export class UnknownPrecisionError extends ExportError {}
