/**
 * The model card: where the model came from (teacher identity, method, budget, data) and what it
 * does (metrics, size, cost, latency per precision), as JSON for tools and Markdown for people.
 * The teacher appears only by the identity fields of the run summary; no credential, header or
 * endpoint secret is ever part of a summary, and the card copies field by field rather than
 * spreading objects so that nothing added to a summary later leaks in by accident.
 */
import type { LocatedRun } from '../locate-run.ts';
import type { PrecisionReport } from '../verify-precision.ts';
import type { LatencyResult } from '../latency.ts';
import { PRECISION_FILES, PRECISION_TITLES, type Precision } from '../precisions.ts';

export const MODEL_CARD_VERSION = 1;

export interface PrecisionCard {
  precision: Precision;
  title: string;
  file: string;
  sizeBytes: number;
  maxAbsDiffVsFp32Student: number;
  fidelityVsFp32Student: number;
  accuracy: number | null;
  accuracyDropVsFp32Student: number | null;
  latency: LatencyResult | null;
  /** int8: the integer kernels ONNX Runtime runs after fusing the QDQ graph. */
  integerKernels?: string[];
  floatComputeLeft?: string[];
}

export interface ModelCard {
  schemaVersion: number;
  createdAt: string;
  student: { key: string; params: number; flops: number; input: string };
  teacher: { id: string; name: string; protocol: string; responseKind: string };
  method: { key: string; targets: string };
  budget: { trainingQueries: number; queryBudget: number; evaluationQueries: number; costEstimate: number };
  data: { local: string; localImages: number; fingerprint: string; heldOut: string | null; heldOutImages: number };
  run: {
    id: string;
    recipe: string;
    engineVersion: string;
    accuracy: number | null;
    fidelityToTeacher: number | null;
    teacherAccuracy: number | null;
  };
  evaluation: { source: string; heldOut: boolean; images: number; studentAccuracy: number | null };
  calibration: { source: string; images: number; matchesRunFingerprint: boolean } | null;
  precisions: PrecisionCard[];
  latencyMethod: string;
  environment: { onnxruntime: string; node: string; cpu: string; platform: string };
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

export interface CardInputs {
  run: LocatedRun;
  reports: PrecisionReport[];
  latency: Map<Precision, LatencyResult>;
  evaluation: { source: string; heldOut: boolean; images: number; studentAccuracy: number };
  calibration: ModelCard['calibration'];
  inputDescription: string;
  latencyMethod: string;
  environment: ModelCard['environment'];
}

export function buildModelCard(c: CardInputs): ModelCard {
  const s = c.run.summary;
  return {
    schemaVersion: MODEL_CARD_VERSION,
    createdAt: new Date().toISOString(),
    student: { key: s.student.key, params: s.student.params, flops: s.student.flops, input: c.inputDescription },
    teacher: {
      id: s.teacher.id,
      name: s.teacher.name,
      protocol: s.teacher.protocol,
      responseKind: s.teacher.responseKind,
    },
    method: { key: s.method.key, targets: s.method.targets },
    budget: {
      trainingQueries: s.queries,
      queryBudget: s.budget,
      evaluationQueries: s.evaluationQueries,
      costEstimate: s.costEstimate,
    },
    data: {
      local: s.data.train,
      localImages: s.data.n,
      fingerprint: s.data.fingerprint,
      heldOut: s.data.test ?? null,
      heldOutImages: s.data.testCount,
    },
    run: {
      id: s.runId,
      recipe: s.recipe,
      engineVersion: s.engineVersion,
      accuracy: num(s.accuracy),
      fidelityToTeacher: num(s.fidelity),
      teacherAccuracy: num(s.teacherAccuracy),
    },
    evaluation: {
      source: c.evaluation.source,
      heldOut: c.evaluation.heldOut,
      images: c.evaluation.images,
      studentAccuracy: num(c.evaluation.studentAccuracy),
    },
    calibration: c.calibration,
    precisions: c.reports.map((r) => ({
      precision: r.precision,
      title: PRECISION_TITLES[r.precision],
      file: PRECISION_FILES[r.precision],
      sizeBytes: r.sizeBytes,
      maxAbsDiffVsFp32Student: r.maxAbsDiff,
      fidelityVsFp32Student: r.fidelity,
      accuracy: num(r.accuracy),
      accuracyDropVsFp32Student: num(r.accuracyDrop),
      latency: c.latency.get(r.precision) ?? null,
      ...(r.optimized
        ? { integerKernels: r.optimized.integerKernels, floatComputeLeft: r.optimized.floatCompute }
        : {}),
    })),
    latencyMethod: c.latencyMethod,
    environment: c.environment,
  };
}

const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
const kb = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;

export function renderModelCardMarkdown(card: ModelCard): string {
  const rows = card.precisions.map((p) => {
    const l = p.latency;
    const lat = l
      ? `${l.p50Ms.toFixed(3)} / ${l.p95Ms.toFixed(3)} | ${l.throughput.toFixed(0)}`
      : 'not measured | not measured';
    const drop = p.accuracyDropVsFp32Student === null ? 'n/a' : `${(p.accuracyDropVsFp32Student * 100).toFixed(2)} pt`;
    return `| ${p.precision} | \`${p.file}\` | ${kb(p.sizeBytes)} | ${pct(p.accuracy)} | ${drop} | ${pct(p.fidelityVsFp32Student)} | ${p.maxAbsDiffVsFp32Student.toExponential(2)} | ${lat} |`;
  });
  const int8 = card.precisions.find((p) => p.integerKernels);
  const lines = [
    `# Model card: ${card.student.key} distilled from ${card.teacher.name}`,
    '',
    `Run \`${card.run.id}\` of recipe "${card.run.recipe}" (engine ${card.run.engineVersion}), exported ${card.createdAt}.`,
    '',
    '## Model',
    `- Architecture: \`${card.student.key}\`, ${card.student.params.toLocaleString('en-US')} parameters, ${(card.student.flops / 1e6).toFixed(3)} MFLOPs per image`,
    `- Input: ${card.student.input}`,
    '- Output: logits; apply softmax for probabilities (see `signature.json`)',
    '',
    '## Teacher (black box)',
    `- Name: ${card.teacher.name}`,
    `- Identity: \`${card.teacher.id}\``,
    `- Protocol: ${card.teacher.protocol}; replies used: ${card.teacher.responseKind}`,
    '',
    '## Distillation',
    `- Method: \`${card.method.key}\` (targets: ${card.method.targets})`,
    `- Teacher queries for training: ${card.budget.trainingQueries} of a budget of ${card.budget.queryBudget}` +
      `${card.budget.costEstimate ? ` (estimated cost ${card.budget.costEstimate.toFixed(2)})` : ''}; ${card.budget.evaluationQueries} more for evaluation only`,
    `- Local data: ${card.data.localImages} images from ${card.data.local}`,
    `- Local data fingerprint (sha256): \`${card.data.fingerprint}\``,
    `- Held-out data: ${card.data.heldOut ? `${card.data.heldOutImages} images from ${card.data.heldOut}` : 'none'}`,
    `- At the end of the run: accuracy ${pct(card.run.accuracy)}, fidelity to the teacher ${pct(card.run.fidelityToTeacher)}, teacher accuracy ${pct(card.run.teacherAccuracy)}`,
    '',
    '## Exports',
    `Evaluated on ${card.evaluation.images} images from ${card.evaluation.source}. The fp32 tfjs student scores ${pct(card.evaluation.studentAccuracy)}; ` +
      'fidelity is top-1 agreement with that student, max |diff| is over all logits.',
    '',
    '| precision | file | size | accuracy | drop vs fp32 | fidelity vs fp32 | max abs diff | p50 / p95 ms (batch 1) | images/s (batch 32) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Latency: ${card.latencyMethod}`,
    '',
    ...(card.calibration
      ? [
          `int8 calibration: ${card.calibration.source}${card.calibration.matchesRunFingerprint ? ' (fingerprint matches the run)' : " (WARNING: these are not the run's local images; the data changed since the run)"}.`,
        ]
      : []),
    ...(int8
      ? [
          `int8 kernels ONNX Runtime runs after QDQ fusion: ${int8.integerKernels!.join(', ')}${int8.floatComputeLeft!.length ? `; still float: ${int8.floatComputeLeft!.join(', ')}` : '; no float compute left'}.`,
        ]
      : []),
    '',
    `Measured with onnxruntime ${card.environment.onnxruntime}, Node ${card.environment.node}, ${card.environment.cpu} (${card.environment.platform}).`,
    '',
  ];
  return lines.join('\n');
}
