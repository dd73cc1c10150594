/** Reading runs: the history list, one run's detail and the image grids its method saved. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RunListItem } from '../api/contract.ts';
import type { RunRow } from '../store/store.ts';
import type { Recipe } from '../recipe/recipe-schema.ts';
import type { ApiHandlers, ServiceContext } from './context.ts';

/** The Train step shows at most this many of a run's newest image grids, each at most this big. */
const MAX_ARTIFACTS = 6;
const MAX_ARTIFACT_BYTES = 4 << 20;

export function runHistoryHandlers(
  ctx: ServiceContext,
): Pick<ApiHandlers, 'runs:list' | 'runs:get' | 'runs:artifacts'> {
  const { store } = ctx;
  return {
    'runs:list': async () => store.listRuns().map(listItem),

    'runs:get': async ({ runId }) => {
      const run = store.getRun(runId);
      const recipe = run.recipe as Recipe;
      return {
        ...listItem(run),
        budget: recipe.budget.queries,
        epochs: recipe.training.epochs,
        metrics: store.metrics(run.id).map((m) => ({
          epoch: m.epoch,
          loss: m.loss,
          accuracy: m.accuracy,
          fidelity: m.fidelity,
          queries: m.queries,
        })),
        events: store.events(run.id).slice(-200),
        summary: run.summary,
      };
    },

    'runs:artifacts': async ({ runId }) => {
      const dir = path.join(ctx.home, 'runs', store.getRun(runId).id, 'artifacts');
      if (!existsSync(dir)) return [];
      const pngs = readdirSync(dir)
        .filter((n) => n.endsWith('.png'))
        .map((n) => ({ n, st: statSync(path.join(dir, n)) }))
        .filter((f) => f.st.isFile() && f.st.size <= MAX_ARTIFACT_BYTES)
        .sort((a, b) => a.st.mtimeMs - b.st.mtimeMs || a.n.localeCompare(b.n))
        .slice(-MAX_ARTIFACTS);
      return pngs.map(({ n }) => ({
        name: n,
        dataUrl: `data:image/png;base64,${readFileSync(path.join(dir, n)).toString('base64')}`,
      }));
    },
  };
}

function listItem(r: RunRow): RunListItem {
  const s = r.summary as { accuracy?: number; fidelity?: number } | null;
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  return {
    id: r.id,
    project: r.project,
    name: r.name,
    status: r.status,
    error: r.error,
    queriesSpent: r.queriesSpent,
    createdAt: r.createdAt,
    accuracy: num(s?.accuracy),
    fidelity: num(s?.fidelity),
  };
}
