/**
 * The one typed contract between the UI and the engine, shared by the Electron preload, the
 * browser bridge and the renderer. Each channel is declared once here, with the zod schema its
 * request must pass; the channel list, the request types and the guards all derive from it.
 * Pure types, zod and data: this file must stay importable from the browser.
 */
import { z } from 'zod';
import { LR_SCHEDULES } from './vocab.ts';
import { DistillError, type ErrorCode } from '../util/errors.ts';

// Errors carry a stable code across the worker, the bridge and IPC (util/errors.ts): front ends
// branch on `errorCode(e) === 'budget-exhausted'`, not on message text.
export * from './errors.ts';

const runId = z.string().regex(/^[0-9A-Za-z-]{4,64}$/);
const path = z.string().min(1).max(4096);
const name = z.string().trim().min(1).max(120);

export const teacherConnectionSchema = z.strictObject({
  protocol: z.enum(['kserve-v2', 'tf-serving', 'torchserve', 'onnx-local']),
  /** Base URL for remote protocols; a manifest or .onnx path for onnx-local. */
  target: z.string().trim().min(1).max(2048),
  modelName: z.string().trim().max(200).optional(),
  /** Names a token already stored through `secrets:set`; the token itself never travels again. */
  tokenKey: z.string().max(200).optional(),
  /**
   * The teacher's input, declared when its metadata cannot say everything — chiefly the
   * per-channel normalisation a remote server expects the client to apply.
   */
  input: z
    .strictObject({
      shape: z.array(z.number().int().min(-1)).length(4),
      layout: z.enum(['NCHW', 'NHWC']),
      mean: z.array(z.number()).min(1).max(4).optional(),
      std: z.array(z.number().positive()).min(1).max(4).optional(),
    })
    .optional(),
});
export type TeacherConnection = z.infer<typeof teacherConnectionSchema>;

export const dataSourceSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('builtin') }),
  z.strictObject({ kind: z.literal('idx'), dir: path }),
  z.strictObject({ kind: z.literal('folder'), dir: path }),
]);
export type DataSource = z.infer<typeof dataSourceSchema>;

export const runRequestSchema = z.strictObject({
  project: name,
  name,
  teacher: teacherConnectionSchema,
  data: z.strictObject({
    source: dataSourceSchema,
    n: z.number().int().min(10).max(1_000_000),
    testLimit: z.number().int().min(0).max(100_000),
  }),
  student: z.string().min(1).max(80),
  method: z.strictObject({
    key: z.string().min(1).max(80),
    kwargs: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  }),
  budget: z.strictObject({
    queries: z.number().int().min(0).max(100_000_000),
    pricePer1000: z.number().min(0).max(1e6),
  }),
  training: z.strictObject({
    epochs: z.number().int().min(1).max(1000),
    batchSize: z.number().int().min(1).max(4096),
    learningRate: z.number().positive().max(1),
    /** Default: the recipe's default, constant. */
    schedule: z.enum(LR_SCHEDULES).optional(),
  }),
});
export type RunRequest = z.infer<typeof runRequestSchema>;

const empty = z.strictObject({});

/** Every channel: its request schema. Responses are the types in `ApiResponses`. */
export const API = {
  'engine:version': empty,
  'projects:list': empty,
  'projects:create': z.strictObject({ name }),
  'secrets:set': z.strictObject({ key: z.string().min(1).max(200), token: z.string().min(1).max(8192) }),
  'teacher:test': teacherConnectionSchema,
  'data:inspect': z.strictObject({ source: dataSourceSchema, samples: z.number().int().min(0).max(64).default(24) }),
  'students:list': z.strictObject({
    height: z.number().int().min(1).max(512),
    width: z.number().int().min(1).max(512),
    channels: z.number().int().min(1).max(4),
    numClasses: z.number().int().min(2).max(10000),
  }),
  'methods:list': empty,
  'methods:plan': z.strictObject({
    method: z.string().min(1).max(80),
    kwargs: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
    n: z.number().int().min(1),
    responseKind: z.enum(['logits', 'probabilities', 'top-k', 'top-1']),
    budget: z.number().int().min(0),
    pricePer1000: z.number().min(0),
  }),
  'runs:start': runRequestSchema,
  'runs:pause': z.strictObject({ runId }),
  /** `budget` raises the run's query budget first (never lowers it), e.g. after billed failures used it up. */
  'runs:resume': z.strictObject({ runId, budget: z.number().int().min(1).max(100_000_000).optional() }),
  'runs:cancel': z.strictObject({ runId }),
  'runs:list': empty,
  'runs:get': z.strictObject({ runId }),
  'runs:evaluate': z.strictObject({ runId }),
  'runs:artifacts': z.strictObject({ runId }),
  'export:bundle': z.strictObject({
    runId,
    precisions: z
      .array(z.enum(['fp32', 'fp16', 'int8']))
      .min(1)
      .max(3),
  }),
} as const;

export type ApiChannel = keyof typeof API;
export const API_CHANNELS = Object.keys(API) as ApiChannel[];
export type ApiRequest<C extends ApiChannel> = z.input<(typeof API)[C]>;
export type ApiParsedRequest<C extends ApiChannel> = z.output<(typeof API)[C]>;

export interface StudentCard {
  key: string;
  title: string;
  description: string;
  params: number;
  flops: number;
  sizeBytes: number;
  /** Measured here: median ms per image of a batch-1 forward pass. */
  latencyMs: number;
}

export interface TeacherTestResult {
  name: string;
  id: string;
  protocol: string;
  inputShape: number[];
  layout: string;
  responseKind: string;
  numClasses: number;
  classNames: string[] | null;
  latencyMs: number;
  height: number;
  width: number;
  channels: number;
}

export interface DataPreview {
  source: string;
  count: number;
  height: number;
  width: number;
  channels: number;
  classNames: string[] | null;
  /** Images per label value (empty when unlabelled). */
  histogram: number[];
  /** Base64 of height*width*channels bytes each (0–255, HWC). */
  samples: { pixels: string; label: number }[];
  hasTestSplit: boolean;
}

export interface MethodInfo {
  key: string;
  title: string;
  reference: string;
  formula: string;
  help: string;
}

export interface PlanResult {
  total: number;
  items: { purpose: string; queries: number }[];
  notes: string[];
  cost: number;
  fits: boolean;
}

export interface RunListItem {
  id: string;
  project: string;
  name: string;
  status: string;
  error: string | null;
  queriesSpent: number;
  createdAt: string;
  accuracy: number | null;
  fidelity: number | null;
}

export interface EpochPoint {
  epoch: number;
  loss: number;
  accuracy: number | null;
  fidelity: number | null;
  queries: number;
}

export interface RunDetail extends RunListItem {
  budget: number;
  epochs: number;
  metrics: EpochPoint[];
  events: { at: string; kind: string; message: string }[];
  summary: Record<string, unknown> | null;
}

export interface Evaluation {
  classNames: string[];
  confusion: number[][];
  perClass: { name: string; accuracy: number; count: number }[];
  accuracy: number;
  /** Reliability bins of the student's top-1 confidence. */
  calibration: { lo: number; hi: number; count: number; accuracy: number; confidence: number }[];
  ece: number;
  samples: {
    pixels: string;
    height: number;
    width: number;
    channels: number;
    label: number;
    student: number;
    teacher: number | null;
  }[];
}

export interface BundleInfo {
  outDir: string;
  files: string[];
  reports: { precision: string; sizeBytes: number; maxAbsDiff: number; fidelity: number; accuracy: number }[];
  /** Bridge: a same-origin path serving the bundle as .tar.gz. Electron: absent. */
  downloadPath?: string;
}

export interface ApiResponses {
  'engine:version': { version: string };
  'projects:list': { name: string; runs: number; queries: number; lastUsed: string | null }[];
  'projects:create': { name: string };
  'secrets:set': { key: string; where: string };
  'teacher:test': TeacherTestResult;
  'data:inspect': DataPreview;
  'students:list': StudentCard[];
  'methods:list': MethodInfo[];
  'methods:plan': PlanResult;
  'runs:start': { runId: string };
  'runs:pause': { ok: true };
  'runs:resume': { ok: true };
  'runs:cancel': { ok: true };
  'runs:list': RunListItem[];
  'runs:get': RunDetail;
  'runs:evaluate': Evaluation;
  /** The newest image grids a method saved (what it sent to the teacher), as data: URLs. */
  'runs:artifacts': { name: string; dataUrl: string }[];
  'export:bundle': BundleInfo;
}

/** Progress pushed to the UI (throttled to about four a second per run). */
export type RunPush =
  | { kind: 'event'; runId: string; event: UiRunEvent }
  | { kind: 'status'; runId: string; status: string; error: string | null; errorCode: ErrorCode | null };

/** The engine's RunEvent, restated here so the contract stays free of engine imports. */
export type UiRunEvent =
  | { type: 'phase'; phase: string; message: string }
  | { type: 'log'; message: string }
  | { type: 'label-progress'; done: number; total: number; spent: number; limit: number; etaSeconds: number }
  | { type: 'step'; epoch: number; epochs: number; step: number; steps: number; etaSeconds: number }
  | {
      type: 'epoch';
      metrics: {
        epoch: number;
        loss: number;
        accuracy: number;
        fidelity: number;
        seconds: number;
        samplesPerSecond: number;
        queries: number;
      };
      etaSeconds: number;
    };

export function isApiChannel(x: unknown): x is ApiChannel {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(API, x);
}

/** A request that breaks the contract: unknown channel or a payload failing its schema. */
export class ContractError extends DistillError {
  override name = 'ContractError';
  readonly code = 'contract';
}

/** Checks channel and payload against the contract; returns the parsed payload or throws ContractError. */
export function parseRequest<C extends ApiChannel>(
  channel: unknown,
  payload: unknown,
): { channel: C; request: ApiParsedRequest<C> } {
  if (!isApiChannel(channel))
    throw new ContractError(`unknown API channel ${JSON.stringify(String(channel)).slice(0, 80)}`);
  const r = API[channel].safeParse(payload ?? {});
  if (!r.success)
    throw new ContractError(
      `${channel}: ${r.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ')}`,
    );
  return { channel: channel as C, request: r.data as ApiParsedRequest<C> };
}

/** The one interface every front end's host implements (Netron's host pattern). */
export interface ApiHost {
  call<C extends ApiChannel>(channel: C, request: ApiRequest<C>): Promise<ApiResponses[C]>;
  onRunPush(cb: (p: RunPush) => void): () => void;
}

/**
 * Desktop-only requests (native dialogs, the file manager), served by the Electron shell alone;
 * the browser bridge has no equivalent and the renderer checks `host.kind` before offering them.
 */
export const SHELL_API = {
  'shell:pick-folder': z.strictObject({ title: z.string().max(200).optional() }),
  'shell:reveal': z.strictObject({ runId }),
  'shell:save-bundle': z.strictObject({ runId }),
} as const;
export type ShellChannel = keyof typeof SHELL_API;

/** The IPC channel names the preload uses: one for the API, one for shell requests, one for pushes. */
export const IPC = { api: 'distill:api', shell: 'distill:shell', runPush: 'distill:run-push' } as const;
