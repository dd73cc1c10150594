/** Edge bundles: written from a finished run and recorded in its history, for the UI and `distill export` alike. */
import { writeBundle, type BundleOptions, type BundleResult } from '../export/bundle/write-bundle.ts';
import { Store } from '../store/store.ts';
import type { ApiHandlers, ServiceContext } from './context.ts';

/**
 * Writes the bundle, then records the export (its files and the precisions written) against the
 * run. `store` is the caller's open store; without one, the store under `opts.home` is opened for
 * the record only, after the bundle is written.
 */
export async function exportBundle(opts: BundleOptions, store?: Store): Promise<BundleResult> {
  const result = await writeBundle(opts);
  const own = store ?? Store.open(opts.home);
  try {
    own.addExport(result.card.run.id, opts.outDir, {
      files: result.files,
      precisions: result.card.precisions.map((p) => p.precision),
    });
  } finally {
    if (!store) own.close();
  }
  return result;
}

export function exportHandlers(ctx: ServiceContext): Pick<ApiHandlers, 'export:bundle'> {
  return {
    'export:bundle': async ({ runId, precisions }) => {
      const id = ctx.store.getRun(runId).id;
      const outDir = ctx.bundleDir(id);
      const result = await exportBundle(
        { home: ctx.home, run: id, outDir, precisions, baseDir: '/', latency: false },
        ctx.store,
      );
      return {
        outDir,
        files: result.files,
        reports: result.reports.map((r) => ({
          precision: r.precision,
          sizeBytes: r.sizeBytes,
          maxAbsDiff: r.maxAbsDiff,
          fidelity: r.fidelity,
          accuracy: r.accuracy,
        })),
      };
    },
  };
}
