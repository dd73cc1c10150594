/**
 * `distill export <run> --out DIR`: an edge bundle (ONNX files per precision, signature, model card,
 * runnable examples) from a finished run.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { defaultHome } from '../jobs/home.ts';
import { BACKEND_ORDER, initBackend, describeBackend, isBackendKey } from '../backends/select-backend.ts';
import { exportBundle } from '../service/export.ts';
import { parsePrecisions, PRECISIONS } from '../export/precisions.ts';
import { MIN_OPSET, MAX_OPSET } from '../export/onnx-export.ts';
import { ExportError } from '../export/errors.ts';
import { table } from './format.ts';

const USAGE = `usage: distill export <run-id|run-dir> --out DIR [options]

  --out DIR             bundle folder (created; existing files are overwritten)
  --precisions LIST     comma-separated, from ${PRECISIONS.join(', ')} (default all; fp32 is always written)
  --opset N             ONNX opset ${MIN_OPSET}-${MAX_OPSET} (default: the run's recipe, normally 13)
  --layout NCHW|NHWC    input layout (default: the run's recipe)
  --calibration N       local images used to calibrate int8 (default 300)
  --eval-limit N        held-out images scored per precision (default: the recipe's testLimit, else all)
  --recipe-dir DIR      folder relative data paths in the run's recipe resolve against (default: cwd)
  --no-latency          skip the latency measurement
  --home DIR            where runs are stored
  --backend KEY         tfjs backend for the reference student (default: best available)
  --json                print one JSON line with the bundle's files and metrics
`;

function positiveInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ExportError(`${what} must be a positive integer, got "${v}"`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        precisions: { type: 'string' },
        opset: { type: 'string' },
        layout: { type: 'string' },
        calibration: { type: 'string' },
        'eval-limit': { type: 'string' },
        'recipe-dir': { type: 'string' },
        'no-latency': { type: 'boolean', default: false },
        home: { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !values.out) {
    process.stderr.write(USAGE);
    return 2;
  }
  const layout = values.layout?.toUpperCase();
  if (layout !== undefined && layout !== 'NCHW' && layout !== 'NHWC') {
    process.stderr.write(`--layout must be NCHW or NHWC, got "${values.layout}"\n`);
    return 2;
  }
  if (values.backend && !isBackendKey(values.backend)) {
    process.stderr.write(`--backend must be one of ${BACKEND_ORDER.join(', ')}\n`);
    return 2;
  }
  let precisions;
  let opset;
  let calibrationImages;
  let evaluationLimit;
  try {
    precisions = values.precisions ? parsePrecisions(values.precisions) : undefined;
    opset = positiveInt(values.opset, '--opset');
    if (opset !== undefined && (opset < MIN_OPSET || opset > MAX_OPSET))
      throw new ExportError(`--opset must be ${MIN_OPSET}-${MAX_OPSET}`);
    calibrationImages = positiveInt(values.calibration, '--calibration');
    evaluationLimit = positiveInt(values['eval-limit'], '--eval-limit');
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }

  const log = (m: string) => process.stderr.write(`${m}\n`);
  const backend = await initBackend({
    force: values.backend && isBackendKey(values.backend) ? values.backend : undefined,
  });
  log(describeBackend(backend));
  const outDir = path.resolve(values.out);
  // Written and recorded in the run's history as the UI's export:bundle does.
  const result = await exportBundle({
    home: values.home ? path.resolve(values.home) : defaultHome(),
    run: positionals[0],
    outDir,
    precisions,
    opset,
    inputLayout: layout,
    baseDir: values['recipe-dir'] ? path.resolve(values['recipe-dir']) : process.cwd(),
    calibrationImages,
    evaluationLimit,
    latency: values['no-latency'] ? false : undefined,
    onLog: log,
  });
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
  if (values.json) {
    process.stdout.write(
      JSON.stringify({
        outDir,
        files: result.files,
        precisions: result.card.precisions.map((p) => ({
          precision: p.precision,
          file: p.file,
          bytes: p.sizeBytes,
          maxAbsDiff: p.maxAbsDiffVsFp32Student,
          fidelity: p.fidelityVsFp32Student,
          accuracy: p.accuracy,
          accuracyDrop: p.accuracyDropVsFp32Student,
          p50Ms: p.latency?.p50Ms ?? null,
          p95Ms: p.latency?.p95Ms ?? null,
          throughput: p.latency?.throughput ?? null,
          integerKernels: p.integerKernels ?? null,
        })),
      }) + '\n',
    );
  } else {
    process.stdout.write(
      `bundle written to ${outDir}\n` +
        table([
          ['precision', 'file', 'KiB', 'accuracy', 'fidelity', 'max |diff|', 'p50 ms', 'p95 ms', 'img/s @32'],
          ...result.card.precisions.map((p) => [
            p.precision,
            p.file,
            (p.sizeBytes / 1024).toFixed(1),
            pct(p.accuracy),
            pct(p.fidelityVsFp32Student),
            p.maxAbsDiffVsFp32Student.toExponential(2),
            p.latency ? p.latency.p50Ms.toFixed(3) : '-',
            p.latency ? p.latency.p95Ms.toFixed(3) : '-',
            p.latency ? p.latency.throughput.toFixed(0) : '-',
          ]),
        ]) +
        '\n',
    );
  }
  return 0;
}
