import { DistillError } from '../util/errors.ts';

/** A request the server refuses; answered as `{"error": message}` with `status`. */
export class HttpError extends DistillError {
  readonly code = 'http-refused';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
