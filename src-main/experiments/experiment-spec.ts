/**
 * An experiment spec: a base recipe, the teacher to serve over HTTP on a fixed loopback port (so its
 * identity, and with it the reply cache, stays the same across invocations), and one or more grid
 * blocks, each the product of its axes. Validated with a closed set of keys like recipes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { RESPONSE_KINDS } from '../teachers/responses.ts';
import { LR_SCHEDULES } from '../training/schedule.ts';

const methodEntry = z.strictObject({
  /** Name in the table (e.g. "gpd-no-dt"); defaults to the key. */
  label: z.string().min(1).optional(),
  key: z.string().min(1),
  kwargs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

const block = z.strictObject({
  students: z.array(z.string().min(1)).min(1),
  methods: z.array(methodEntry).min(1),
  budgets: z.array(z.number().int().positive()).min(1),
  responseKinds: z.array(z.enum(RESPONSE_KINDS)).min(1),
  seeds: z.array(z.number().int().nonnegative()).min(1),
});

export const experimentSpecSchema = z.strictObject({
  version: z.literal(1),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  description: z.string().optional(),
  /** Recipe file, relative to the spec. */
  baseRecipe: z.string().min(1),
  teacher: z.strictObject({
    /** Manifest or .onnx served by the built-in teacher server (`builtin:` = shipped resources). */
    model: z.string().min(1),
    port: z.number().int().min(1024).max(65535),
    protocol: z.literal('kserve-v2').default('kserve-v2'),
    modelName: z.string().min(1),
  }),
  /** Overrides of the base recipe for every cell. */
  data: z.strictObject({ n: z.number().int().positive(), testLimit: z.number().int().positive().optional() }),
  training: z.strictObject({
    epochs: z.number().int().positive(),
    /** Default: the base recipe's (also the learning rate and schedule). */
    batchSize: z.number().int().positive().max(4096).optional(),
    learningRate: z.number().positive().max(1).optional(),
    schedule: z.enum(LR_SCHEDULES).optional(),
  }),
  grid: z.array(block).min(1),
});

export type ExperimentSpec = z.infer<typeof experimentSpecSchema>;
export type MethodEntry = z.infer<typeof methodEntry>;

export function loadExperimentSpec(file: string): { spec: ExperimentSpec; baseDir: string } {
  const raw = YAML.parse(readFileSync(file, 'utf8')) as unknown;
  const parsed = experimentSpecSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `experiment spec ${file}:\n  - ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  - ')}`,
    );
  }
  return { spec: parsed.data, baseDir: path.dirname(path.resolve(file)) };
}

export interface Cell {
  id: string;
  student: string;
  method: Required<MethodEntry>;
  budget: number;
  responseKind: (typeof RESPONSE_KINDS)[number];
  seed: number;
}

/** Every cell of every block, in a stable order; ids are unique across blocks. */
export function expandGrid(spec: ExperimentSpec): Cell[] {
  const cells = new Map<string, Cell>();
  for (const b of spec.grid) {
    for (const student of b.students)
      for (const m of b.methods)
        for (const responseKind of b.responseKinds)
          for (const budget of b.budgets)
            for (const seed of b.seeds) {
              const method = { label: m.label ?? m.key, key: m.key, kwargs: m.kwargs };
              const id = `${student}/${method.label}/${responseKind}/${budget}/s${seed}`;
              if (!cells.has(id)) cells.set(id, { id, student, method, budget, responseKind, seed });
            }
  }
  return [...cells.values()];
}

/** One grid cell's row in results.json: what ran and what it measured. */
export interface CellResult {
  id: string;
  student: string;
  method: string;
  methodKey: string;
  responseKind: string;
  budget: number;
  seed: number;
  status: 'running' | 'completed' | 'failed';
  runId?: string;
  /** Set when this cell's plan equals that of a cell with a smaller budget: the row repeats it. */
  sameAs?: string;
  accuracy?: number;
  fidelity?: number;
  teacherAccuracy?: number;
  /** Student-to-teacher accuracy ratio. */
  ratio?: number;
  queriesUsed?: number;
  queriesPaid?: number;
  seconds?: number;
  error?: string;
}
