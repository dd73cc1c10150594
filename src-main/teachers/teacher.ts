/**
 * The one interface every teacher adapter implements, local or remote.
 * The engine treats a teacher as a black box: images in, one response per image out.
 */
import type { TeacherResponses, ResponseKind } from './responses.ts';

/** How a teacher wants its inputs; the client converts from the engine's NHWC [0, 1] form. */
export interface TeacherInputSpec {
  /** Including the batch dimension, −1 where variable, e.g. [-1, 1, 28, 28]. */
  shape: number[];
  layout: 'NCHW' | 'NHWC';
  dtype: 'float32';
  /** Pixel range the teacher expects before normalisation, e.g. [0, 1] or [0, 255]. */
  scale: [number, number];
  /** Per-channel normalisation applied after scaling: (x − mean) / std. */
  mean?: number[];
  std?: number[];
  /** Name of the model input, where the protocol needs one. */
  name?: string;
}

export interface TeacherInfo {
  /** Stable identity used to key cached replies: protocol, endpoint/model and version, never secrets. */
  id: string;
  protocol: string;
  name: string;
  input: TeacherInputSpec;
  /** What the teacher returns for each image. */
  responseKind: ResponseKind;
  numClasses: number;
  classNames?: string[];
  /**
   * Samples sent while opening, outside any run's budget (e.g. one probe to learn the class count
   * where metadata does not tell); 0 when none.
   */
  openQueries?: number;
}

export interface Teacher {
  readonly info: TeacherInfo;
  /**
   * Labels `count` images (NHWC float32 in [0, 1], the engine's form). Adapters send them as one
   * request; batching, budgets and retries are the caller's business.
   */
  query(images: Float32Array, count: number): Promise<TeacherResponses>;
  /**
   * Same, for input already in the teacher's form (`toTeacherInput`): these are the exact values
   * sent, which the client hashes to key the reply cache.
   */
  queryPrepared(input: Float32Array, count: number): Promise<TeacherResponses>;
  close(): Promise<void>;
}
