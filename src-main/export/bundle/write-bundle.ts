/**
 * `distill export`: turns a finished run into an edge bundle. Every file is proven before it is
 * written: fp32 against the parity bound, int8 against ONNX Runtime's fused graph, and each is
 * scored against the fp32 student on the recipe's held-out data.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../../students/model-io.ts';
import { RESOURCES_DIR } from '../../recipe/load-recipe.ts';
import { locateRun } from '../locate-run.ts';
import { exportPrecisions, PRECISION_FILES, type Precision } from '../precisions.ts';
import { studentReference, verifyPrecision, type PrecisionReport } from '../verify-precision.ts';
import { measureOrtLatency, type LatencyOptions, type LatencyResult } from '../latency.ts';
import type { InputLayout } from '../tfjs-to-onnx.ts';
import { loadRunData } from './run-data.ts';
import { buildSignature, type BundleSignature } from './signature.ts';
import { buildModelCard, renderModelCardMarkdown, type ModelCard } from './model-card.ts';

export const EXAMPLES_DIR = path.join(RESOURCES_DIR, 'bundle-examples');
export const EXAMPLE_FILES = ['example-node.mjs', 'example_python.py', 'README.md'] as const;

export interface BundleOptions {
  home: string;
  /** Run id, or the run's folder. */
  run: string;
  outDir: string;
  /** Default fp32, fp16, int8. fp32 is always included: it is the reference the others are judged by. */
  precisions?: Precision[];
  /** Default: what the run exported with (recipe.export). */
  opset?: number;
  inputLayout?: InputLayout;
  /** Folder relative recipe paths resolve against. Default the current directory. */
  baseDir?: string;
  calibrationImages?: number;
  evaluationLimit?: number;
  /** false skips the latency measurement (tests that only need the files). */
  latency?: LatencyOptions | false;
  onLog?: (message: string) => void;
}

export interface BundleResult {
  outDir: string;
  files: string[];
  signature: BundleSignature;
  card: ModelCard;
  reports: PrecisionReport[];
}

export async function writeBundle(opts: BundleOptions): Promise<BundleResult> {
  const log = opts.onLog ?? (() => {});
  const run = locateRun(opts.home, opts.run);
  const precisions: Precision[] = ['fp32', ...(opts.precisions ?? ['fp16', 'int8']).filter((p) => p !== 'fp32')];
  const inputLayout = opts.inputLayout ?? run.recipe.export.inputLayout;
  const model = await loadModel(run.studentDir);
  try {
    const data = loadRunData(run, {
      baseDir: opts.baseDir ?? process.cwd(),
      calibrationImages: opts.calibrationImages,
      evaluationLimit: opts.evaluationLimit,
    });
    if (!data.calibration.matchesRunFingerprint)
      log("warning: the local images no longer match the run's fingerprint; calibrating on them anyway");
    log(`exporting ${precisions.join(', ')} (opset ${opts.opset ?? run.recipe.export.opset}, ${inputLayout})`);
    const artifacts = await exportPrecisions(model, {
      precisions,
      opset: opts.opset ?? run.recipe.export.opset,
      inputLayout,
      calibration: precisions.includes('int8') ? data.calibration : undefined,
      metadata: {
        runId: run.runId,
        recipe: run.summary.recipe,
        method: run.summary.method.key,
        teacher: run.summary.teacher.id,
        student: run.summary.student.key,
      },
    });
    const ref = await studentReference(model, data.evaluation);
    const reports: PrecisionReport[] = [];
    const latency = new Map<Precision, LatencyResult>();
    for (const a of artifacts) {
      const r = await verifyPrecision(a, data.evaluation, ref);
      reports.push(r);
      log(
        `${a.precision}: ${r.sizeBytes} bytes, max |diff| ${r.maxAbsDiff.toExponential(2)}, fidelity ${(r.fidelity * 100).toFixed(2)}%`,
      );
      if (opts.latency !== false) {
        const numeric = a.inputShape.slice(1).map(Number);
        latency.set(a.precision, await measureOrtLatency(a.bytes, numeric, opts.latency ?? {}));
      }
    }

    mkdirSync(opts.outDir, { recursive: true });
    const files: string[] = [];
    const put = (name: string, content: string | Uint8Array): void => {
      writeFileSync(path.join(opts.outDir, name), content);
      files.push(name);
    };
    for (const a of artifacts) put(PRECISION_FILES[a.precision], a.bytes);
    const signature = buildSignature(artifacts, data.evaluation.dims, data.classNames);
    put('signature.json', JSON.stringify(signature, null, 2) + '\n');
    const { height, width, channels } = data.evaluation.dims;
    const lat = opts.latency === false ? undefined : latency.values().next().value;
    const card = buildModelCard({
      run,
      reports,
      latency,
      evaluation: {
        source: data.evaluation.source,
        heldOut: data.evaluation.heldOut,
        images: data.evaluation.count,
        studentAccuracy: ref.accuracy,
      },
      calibration: precisions.includes('int8')
        ? {
            source: data.calibration.source,
            images: data.calibration.count,
            matchesRunFingerprint: data.calibration.matchesRunFingerprint,
          }
        : null,
      inputDescription: `${height}×${width}×${channels} (${signature.input.layout} ${signature.input.shape.join('×')}), float32 in [0, 1]`,
      latencyMethod: lat
        ? `ONNX Runtime CPU, ${lat.threads} intra-op thread(s), batch 1: p50/p95 of ${lat.runs} runs after ${lat.warmup} warm-up; throughput: ${lat.batch}-image batches`
        : 'not measured',
      environment: {
        onnxruntime: ort.env.versions.common ?? 'unknown',
        node: process.versions.node,
        cpu: os.cpus()[0]?.model ?? 'unknown',
        platform: `${process.platform}-${process.arch}`,
      },
    });
    put('model-card.json', JSON.stringify(card, null, 2) + '\n');
    put('model-card.md', renderModelCardMarkdown(card));
    for (const f of EXAMPLE_FILES) {
      copyFileSync(path.join(EXAMPLES_DIR, f), path.join(opts.outDir, f));
      files.push(f);
    }
    return { outDir: opts.outDir, files, signature, card, reports };
  } finally {
    model.dispose();
  }
}
