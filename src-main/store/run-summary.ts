/**
 * What a run reports when it ends (completed, paused or cancelled): written to the run folder's
 * summary.json and the store's summary_json by the job, read back by export and the front ends.
 * It lives here, beside the store, so that export/ reads it without importing jobs/.
 */
import type { BackendChoice } from '../backends/select-backend.ts';

export interface RunSummary {
  runId: string;
  runDir: string;
  status: 'completed' | 'paused' | 'cancelled';
  recipe: string;
  engineVersion: string;
  backend: BackendChoice;
  teacher: {
    id: string;
    name: string;
    protocol: string;
    responseKind: string;
    numClasses: number;
    classNames?: string[];
  };
  student: { key: string; params: number; flops: number };
  method: {
    key: string;
    targets: string;
    plan: { total: number; items: { purpose: string; queries: number }[]; notes: string[] };
  };
  data: { train: string; origin?: string; n: number; fingerprint: string; test?: string; testCount: number };
  /** Final-epoch figures on held-out data; never the best epoch. */
  accuracy: number;
  fidelity: number;
  teacherAccuracy: number;
  /** Training queries actually sent to the teacher (budgeted), over all sessions of the run. */
  queries: number;
  budget: number;
  costEstimate: number;
  /** Held-out queries made only to measure fidelity and teacher accuracy. */
  evaluationQueries: number;
  /** Samples sent while opening the teacher to detect its reply kind (only when undeclared). */
  openQueries: number;
  epochs: EpochMetrics[];
  /** Epoch the last session started from (0 for a fresh run). */
  resumedFromEpoch: number;
  seconds: number;
  /** The trained student as tfjs model.json + weights.bin. */
  studentDir: string;
  onnx?: { path: string; bytes: number; opset: number; inputLayout: string; maxAbsDiff: number; parityOk: boolean };
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  /** Student accuracy on the labelled held-out set (NaN without one). */
  accuracy: number;
  /** Agreement of student and teacher top-1 on the held-out set (NaN without teacher replies on it). */
  fidelity: number;
  seconds: number;
  samplesPerSecond: number;
  queries: number;
}
