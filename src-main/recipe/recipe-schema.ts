/**
 * A run is a versioned recipe: plain data, validated against a closed schema (unknown keys are
 * errors), so a recipe can never name code to run. Paths are relative to the recipe file;
 * `builtin:` paths point into the shipped resources/.
 */
import { z } from 'zod';
import { RESPONSE_KINDS } from '../teachers/responses.ts';
import { inputSpecSchema } from '../teachers/input-spec-schema.ts';
import { teacherAuthSchema } from '../teachers/auth.ts';
import { LR_SCHEDULES } from '../training/schedule.ts';

export const RECIPE_VERSION = 1;

const teacher = z.strictObject({
  protocol: z.string().min(1),
  /** onnx-local: a teacher manifest (.json) or a model (.onnx). */
  model: z.string().optional(),
  input: inputSpecSchema.optional(),
  /** What the teacher reveals; the run uses at most this much. */
  responseKind: z.enum(RESPONSE_KINDS).optional(),
  topK: z.number().int().min(1).optional(),
  classNames: z.array(z.string()).optional(),
  maxBatch: z.number().int().min(1).max(65536).default(256),
  // Remote teachers (kserve-v2, tf-serving, torchserve, http-json); see src-main/teachers/*-teacher.ts.
  /** Endpoint base URL (http-json: the full URL). */
  url: z.string().url().optional(),
  modelName: z.string().min(1).optional(),
  modelVersion: z.string().min(1).optional(),
  /** Names the environment variable holding the token; the token itself never goes in a recipe. */
  auth: teacherAuthSchema.optional(),
  /** Extra, non-secret request headers. */
  headers: z.record(z.string(), z.string()).optional(),
  /** Class count, where neither metadata, class names nor a probe can tell (top-k, top-1 teachers). */
  numClasses: z.number().int().min(2).optional(),
  timeoutMs: z.number().int().positive().max(600_000).optional(),
  /** Requests in flight at once (default 1). */
  concurrency: z.number().int().min(1).max(64).default(1),
  /** Retries of a transient failure per request (default 4). */
  retries: z.number().int().min(0).max(20).default(4),
  /** Consecutive failed requests that pause the run (default 8). */
  circuitThreshold: z.number().int().min(1).max(1000).default(8),
  /** kserve-v2: binary tensor extension. */
  binary: z.boolean().optional(),
  outputName: z.string().optional(),
  /** tf-serving: row (`instances`) or column (`inputs`) form. */
  form: z.enum(['row', 'column']).optional(),
  signatureName: z.string().optional(),
  outputKey: z.string().optional(),
  /** torchserve: JSON batches or one raw PNG per image. */
  body: z.enum(['json', 'raw']).optional(),
  /** http-json: request template (the string "$batch" marks the batch) and reply path. */
  method: z.enum(['POST', 'PUT']).optional(),
  bodyTemplate: z.unknown().optional(),
  sampleForm: z.enum(['nested', 'flat']).optional(),
  replyPath: z.string().optional(),
});

const dataSource = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('idx'),
    /** A folder with standard IDX names, or `builtin:fashion-mnist` (Debian package, else the shipped subset). */
    dir: z.string().optional(),
    images: z.string().optional(),
    labels: z.string().optional(),
    split: z.enum(['train', 'test']).default('train'),
  }),
  z.strictObject({
    kind: z.literal('folder'),
    dir: z.string(),
    grayscale: z.boolean().optional(),
    size: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
  }),
]);

const data = z.strictObject({
  /** The local (unlabelled as far as distillation is concerned) images. */
  train: dataSource,
  /** How many local images to use: the few-shot N. */
  n: z.number().int().positive(),
  balanced: z.boolean().default(false),
  /** Labelled held-out images for accuracy and fidelity. Never used for training or selection. */
  test: dataSource.optional(),
  /** Cap on held-out images evaluated (and so on evaluation queries to the teacher). */
  testLimit: z.number().int().positive().optional(),
});

const training = z.strictObject({
  epochs: z.number().int().positive().max(10000),
  batchSize: z.number().int().positive().max(4096).default(64),
  learningRate: z.number().positive().max(1).default(1e-3),
  /**
   * `constant`, or `cosine`: from learningRate down to 0 over the run's epochs. The small zoo
   * students underfit at a constant rate; docs/results/student-ceiling/ measures the difference.
   */
  schedule: z.enum(LR_SCHEDULES).default('constant'),
  /**
   * Worker threads for data-parallel training, each with its own backend; the batch is split
   * across them. Default: DISTILL_WORKERS, else every core (one thread for a student with too
   * little arithmetic per parameter to gain from them). Results match one thread up to float
   * summation order (and BatchNorm's per-shard batch statistics).
   */
  workers: z.number().int().min(1).max(256).optional(),
  augment: z
    .strictObject({
      /** Random translation of up to this many pixels (zero fill); costs no queries. */
      shift: z.number().int().min(0).max(8).default(0),
      flip: z.boolean().default(false),
    })
    .default({ shift: 0, flip: false }),
});

export const recipeSchema = z.strictObject({
  version: z.literal(RECIPE_VERSION),
  name: z.string().min(1).max(200),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(1),
  /** 'auto' or a BackendKey (backends/select-backend.ts; a test keeps the two lists equal). */
  backend: z.enum(['auto', 'tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu']).default('auto'),
  teacher,
  data,
  student: z.strictObject({ key: z.string().min(1) }),
  method: z.strictObject({
    key: z.string().min(1),
    kwargs: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
  }),
  budget: z.strictObject({
    /** Hard limit on samples sent to the teacher for training. */
    queries: z.number().int().min(0),
    /** User-set price per 1,000 queries, for the cost estimate. */
    pricePer1000: z.number().min(0).default(0),
    /** Whether held-out evaluation may query the teacher (counted separately) to measure fidelity. */
    evaluationQueries: z.boolean().default(true),
  }),
  training,
  export: z
    .strictObject({
      onnx: z.boolean().default(true),
      opset: z.number().int().min(13).max(21).default(13),
      inputLayout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
    })
    .default({ onnx: true, opset: 13, inputLayout: 'NCHW' }),
});

export type Recipe = z.infer<typeof recipeSchema>;
export type DataSourceSpec = z.infer<typeof dataSource>;
