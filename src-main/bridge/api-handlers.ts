/**
 * The engine side of the API contract, implemented once. The browser bridge and the Electron IPC
 * both validate a request against the contract (after their own sender checks) and then call
 * `dispatch`; nothing here knows which front end asked.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  parseRequest,
  type ApiChannel,
  type ApiParsedRequest,
  type ApiResponses,
  type DataSource,
  type RunListItem,
  type RunRequest,
  type TeacherConnection,
} from '../api/contract.ts';
import { ENGINE_VERSION, checkBudgetRaise } from '../jobs/run-distillation.ts';
import { resolveSource } from '../data/resolve-source.ts';
import { Store, type RunRow } from '../store/store.ts';
import { openTeacher } from '../teachers/index.ts';
import { specImageDims } from '../teachers/preprocess.ts';
import { loadDataset } from '../data/load-dataset.ts';
import { tryFindIdxPair } from '../data/idx.ts';
import { subset, type ImageSet } from '../data/image-set.ts';
import { listStudents, describeStudent } from '../students/index.ts';
import { getMethod, listMethods } from '../methods/index.ts';
import { parseRecipe } from '../recipe/load-recipe.ts';
import type { DataSourceSpec, Recipe } from '../recipe/recipe-schema.ts';
import { initBackend } from '../backends/select-backend.ts';
import { writeBundle } from '../export/bundle/write-bundle.ts';
import { locateRun } from '../export/locate-run.ts';
import { loadModel } from '../students/model-io.ts';
import { predictLogits } from '../training/evaluate.ts';
import { softmaxRows, argmaxRows } from '../teachers/responses.ts';
import { TeacherClient } from '../teachers/teacher-client.ts';
import { QueryBudget } from '../teachers/query-budget.ts';
import { SqliteReplyCache } from '../store/sqlite-reply-cache.ts';
import type { SecretVault } from './secret-vault.ts';
import { RunManager, UI_TOKEN_ENV } from './run-manager.ts';

export type ApiHandlers = { [C in ApiChannel]: (req: ApiParsedRequest<C>) => Promise<ApiResponses[C]> };

export interface ApiService {
  handlers: ApiHandlers;
  runs: RunManager;
  store: Store;
  /** Validates against the contract, then runs the handler. Throws ContractError on a bad request. */
  dispatch(channel: unknown, payload: unknown): Promise<unknown>;
  /** Where `export:bundle` wrote a run's bundle. */
  bundleDir(runId: string): string;
  close(): void;
}

/** The Train step shows at most this many of a run's newest image grids, each at most this big. */
const MAX_ARTIFACTS = 6;
const MAX_ARTIFACT_BYTES = 4 << 20;

const METHOD_HELP: Record<string, string> = {
  'kd-soft': 'Asks the teacher once per local image and trains the student to match its full (softened) answer. The usual first choice when the teacher returns scores.',
  'kd-hard': 'Asks the teacher once per local image and trains on its top answer only. Use it when the teacher reveals just a label.',
  'label-local': 'Labels your local images with the teacher and trains on those labels.',
};

export function createApiService(opts: { home: string; vault: SecretVault; runs?: RunManager }): ApiService {
  const home = path.resolve(opts.home);
  mkdirSync(home, { recursive: true });
  const store = Store.open(home);
  const runs = opts.runs ?? new RunManager(home);
  const tokenKeys = new Map<string, string | undefined>();
  let backend: Promise<unknown> | undefined;
  const ensureBackend = () => (backend ??= initBackend());
  const bundleDir = (runId: string) => path.join(home, 'bundles', runId);

  const tokenFor = (key: string | undefined): string | undefined => {
    if (!key) return undefined;
    const t = opts.vault.get(key);
    if (t === undefined) throw new Error(`no token stored under "${key}"; enter it again`);
    return t;
  };

  const handlers: ApiHandlers = {
    'engine:version': async () => ({ version: ENGINE_VERSION }),

    'projects:list': async () => {
      const rows = store.db
        .prepare(
          `SELECT p.name, COUNT(r.id) AS runs, COALESCE(SUM(r.queries_spent), 0) AS queries, MAX(r.created_at) AS last
           FROM projects p LEFT JOIN runs r ON r.project_id = p.id GROUP BY p.id ORDER BY COALESCE(MAX(r.created_at), p.created_at) DESC`,
        )
        .all() as { name: string; runs: number; queries: number; last: string | null }[];
      return rows.map((r) => ({ name: r.name, runs: r.runs, queries: r.queries, lastUsed: r.last }));
    },

    'projects:create': async ({ name }) => {
      store.projectId(name);
      return { name };
    },

    'secrets:set': async ({ key, token }) => {
      opts.vault.set(key, token);
      return { key, where: opts.vault.where };
    },

    'teacher:test': async (conn) => {
      const teacher = await openTeacher(conn.protocol, teacherSettings(conn, tokenFor(conn.tokenKey)));
      try {
        const info = teacher.info;
        const dims = specImageDims(info.input);
        const per = dims.height * dims.width * dims.channels;
        // A blank image and a ramp: enough to see the reply's shape and kind.
        const batch = new Float32Array(2 * per);
        for (let i = 0; i < per; i++) batch[per + i] = i / per;
        const t0 = performance.now();
        await teacher.query(batch, 2);
        const latencyMs = performance.now() - t0;
        return {
          name: info.name,
          id: info.id,
          protocol: info.protocol,
          inputShape: info.input.shape.map(Number),
          layout: info.input.layout,
          responseKind: info.responseKind,
          numClasses: info.numClasses,
          classNames: info.classNames ?? null,
          latencyMs: Number(latencyMs.toFixed(1)),
          ...dims,
        };
      } finally {
        await teacher.close();
      }
    },

    'data:inspect': async ({ source, samples }) => {
      const set = loadDataset(resolveSource(trainSpec(source), '/').spec);
      const histogram: number[] = [];
      if (set.labels) for (const l of set.labels) if (l >= 0) histogram[l] = (histogram[l] ?? 0) + 1;
      const step = Math.max(1, Math.floor(set.count / Math.max(1, samples)));
      const picks = Array.from({ length: Math.min(samples, set.count) }, (_, i) => i * step);
      return {
        source: set.source,
        count: set.count,
        height: set.height,
        width: set.width,
        channels: set.channels,
        classNames: set.classNames ?? null,
        histogram: Array.from(histogram, (v) => v ?? 0),
        samples: picks.map((i) => ({ pixels: imageBase64(set, i), label: set.labels?.[i] ?? -1 })),
        hasTestSplit: testSpec(source) !== undefined,
      };
    },

    'students:list': async ({ height, width, channels, numClasses }) => {
      await ensureBackend();
      const cards: ApiResponses['students:list'] = [];
      for (const s of listStudents()) {
        let model: tf.LayersModel;
        try {
          model = s.build({ inputShape: [height, width, channels], numClasses, seed: 1 });
        } catch {
          continue; // this architecture does not fit the teacher's input
        }
        try {
          const d = describeStudent(model);
          const x = tf.zeros([1, height, width, channels]);
          const times: number[] = [];
          for (let i = 0; i < 6; i++) {
            const t0 = performance.now();
            const y = model.predict(x) as tf.Tensor;
            await y.data();
            y.dispose();
            if (i > 0) times.push(performance.now() - t0);
          }
          x.dispose();
          times.sort((a, b) => a - b);
          cards.push({ key: s.key, title: s.title, description: s.description, params: d.params, flops: d.flops, sizeBytes: d.params * 4, latencyMs: Number(times[times.length >> 1].toFixed(2)) });
        } finally {
          model.dispose();
        }
      }
      return cards;
    },

    'methods:list': async () =>
      listMethods().map((m) => ({ key: m.key, title: m.title, reference: m.reference, formula: m.formula, help: METHOD_HELP[m.key] ?? m.title })),

    'methods:plan': async (r) => {
      const plan = getMethod(r.method).plan({ kwargs: r.kwargs, localCount: r.n, responseKind: r.responseKind, budget: r.budget });
      return { ...plan, cost: (plan.total / 1000) * r.pricePer1000, fits: plan.total <= r.budget };
    },

    'runs:start': async (req) => {
      const recipe = buildRecipe(req);
      const runId = await runs.start(recipe, req.project, tokenFor(req.teacher.tokenKey));
      tokenKeys.set(runId, req.teacher.tokenKey);
      return { runId };
    },

    'runs:pause': async ({ runId }) => {
      store.requestControl(store.getRun(runId).id, 'pause');
      return { ok: true };
    },

    'runs:cancel': async ({ runId }) => {
      const run = store.getRun(runId);
      if (run.status === 'paused' || run.status === 'failed') store.updateRun(run.id, { status: 'cancelled', pid: null });
      else store.requestControl(run.id, 'cancel');
      return { ok: true };
    },

    'runs:resume': async ({ runId, budget }) => {
      const run = store.getRun(runId);
      // Checked here too, so the UI gets the reason at once rather than from the worker.
      if (budget !== undefined) checkBudgetRaise(run.id, (run.recipe as Recipe).budget.queries, budget);
      await runs.resume(run.id, tokenFor(tokenKeys.get(run.id)), budget);
      return { ok: true };
    },

    'runs:list': async () => store.listRuns().map(listItem),

    'runs:get': async ({ runId }) => {
      const run = store.getRun(runId);
      const recipe = run.recipe as Recipe;
      return {
        ...listItem(run),
        budget: recipe.budget.queries,
        epochs: recipe.training.epochs,
        metrics: store.metrics(run.id).map((m) => ({ epoch: m.epoch, loss: m.loss, accuracy: m.accuracy, fidelity: m.fidelity, queries: m.queries })),
        events: store.events(run.id).slice(-200),
        summary: run.summary,
      };
    },

    'runs:evaluate': async ({ runId }) => {
      await ensureBackend();
      const run = locateRun(home, store.getRun(runId).id);
      const src = run.recipe.data.test ?? run.recipe.data.train;
      let set = loadDataset(resolveSource(src, '/').spec);
      const limit = run.recipe.data.testLimit ?? 1000;
      if (set.count > limit) set = subset(set, Array.from({ length: limit }, (_, i) => i));
      if (!set.labels) throw new Error('the evaluation images have no labels, so accuracy cannot be measured');
      const model = await loadModel(run.studentDir);
      try {
        const logits = await predictLogits(model, set.images, set.count, set);
        const C = logits.length / set.count;
        const probs = softmaxRows(logits, C);
        const pred = argmaxRows(logits, C);
        const classNames = run.summary.teacher.classNames ?? set.classNames ?? Array.from({ length: C }, (_, i) => String(i));
        const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
        const bins = Array.from({ length: 10 }, (_, i) => ({ lo: i / 10, hi: (i + 1) / 10, count: 0, correct: 0, conf: 0 }));
        let correct = 0;
        let counted = 0;
        for (let i = 0; i < set.count; i++) {
          const y = set.labels[i];
          if (y < 0 || y >= C) continue;
          counted++;
          confusion[y][pred[i]]++;
          const ok = pred[i] === y;
          if (ok) correct++;
          const p = probs[i * C + pred[i]];
          const b = bins[Math.min(9, Math.floor(p * 10))];
          b.count++;
          b.conf += p;
          if (ok) b.correct++;
        }
        const calibration = bins.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, accuracy: b.count ? b.correct / b.count : 0, confidence: b.count ? b.conf / b.count : 0 }));
        const ece = calibration.reduce((s, b) => s + (b.count / Math.max(1, counted)) * Math.abs(b.accuracy - b.confidence), 0);
        const nSamples = Math.min(12, set.count);
        const teacherTop1 = await cachedTeacherLabels(run.recipe, run.runId, set, nSamples);
        return {
          classNames,
          confusion,
          perClass: confusion.map((row, c) => {
            const n = row.reduce((a, b) => a + b, 0);
            return { name: classNames[c] ?? String(c), accuracy: n ? row[c] / n : 0, count: n };
          }),
          accuracy: counted ? correct / counted : 0,
          calibration,
          ece,
          samples: Array.from({ length: nSamples }, (_, i) => ({
            pixels: imageBase64(set, i),
            height: set.height,
            width: set.width,
            channels: set.channels,
            label: set.labels?.[i] ?? -1,
            student: pred[i],
            teacher: teacherTop1 ? teacherTop1[i] : null,
          })),
        };
      } finally {
        model.dispose();
      }
    },

    'runs:artifacts': async ({ runId }) => {
      const dir = path.join(home, 'runs', store.getRun(runId).id, 'artifacts');
      if (!existsSync(dir)) return [];
      const pngs = readdirSync(dir)
        .filter((n) => n.endsWith('.png'))
        .map((n) => ({ n, st: statSync(path.join(dir, n)) }))
        .filter((f) => f.st.isFile() && f.st.size <= MAX_ARTIFACT_BYTES)
        .sort((a, b) => a.st.mtimeMs - b.st.mtimeMs || a.n.localeCompare(b.n))
        .slice(-MAX_ARTIFACTS);
      return pngs.map(({ n }) => ({ name: n, dataUrl: `data:image/png;base64,${readFileSync(path.join(dir, n)).toString('base64')}` }));
    },

    'export:bundle': async ({ runId, precisions }) => {
      const id = store.getRun(runId).id;
      const outDir = bundleDir(id);
      const result = await writeBundle({ home, run: id, outDir, precisions, baseDir: '/', latency: false });
      store.addExport(id, outDir, { precisions, files: result.files });
      return {
        outDir,
        files: result.files,
        reports: result.reports.map((r) => ({ precision: r.precision, sizeBytes: r.sizeBytes, maxAbsDiff: r.maxAbsDiff, fidelity: r.fidelity, accuracy: r.accuracy })),
      };
    },
  };

  /**
   * Teacher top-1 for the first `n` held-out images, from the replies the run already paid for
   * (the evaluation phase cached them), so the Evaluate step spends nothing. Null if unavailable.
   */
  async function cachedTeacherLabels(recipe: Recipe, runId: string, set: ImageSet, n: number): Promise<Int32Array | null> {
    try {
      const t = recipe.teacher;
      const token = t.auth?.env === UI_TOKEN_ENV ? tokenFor(tokenKeys.get(runId)) : undefined;
      const teacher = await openTeacher(t.protocol, { ...t, auth: t.auth ? { ...t.auth, token } : undefined });
      try {
        const client = new TeacherClient(teacher, new QueryBudget(0), { cache: new SqliteReplyCache(store.db, { runId, purpose: 'eval' }) });
        const per = set.height * set.width * set.channels;
        const replies = await client.label(set.images.subarray(0, n * per), n, per);
        return replies.top1;
      } finally {
        await teacher.close();
      }
    } catch {
      return null;
    }
  }

  return {
    handlers,
    runs,
    store,
    bundleDir,
    async dispatch(channel, payload) {
      const { channel: c, request } = parseRequest(channel, payload);
      return (handlers[c] as (r: unknown) => Promise<unknown>)(request);
    },
    close() {
      runs.closeAll();
      store.close();
    },
  };
}

function listItem(r: RunRow): RunListItem {
  const s = r.summary as { accuracy?: number; fidelity?: number } | null;
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  return { id: r.id, project: r.project, name: r.name, status: r.status, error: r.error, queriesSpent: r.queriesSpent, createdAt: r.createdAt, accuracy: num(s?.accuracy), fidelity: num(s?.fidelity) };
}

function teacherSettings(conn: TeacherConnection, token: string | undefined): Record<string, unknown> {
  const input = conn.input ? { dtype: 'float32', scale: [0, 1], ...conn.input } : undefined;
  if (conn.protocol === 'onnx-local') return { model: path.resolve(conn.target), ...(input ? { input } : {}) };
  return { url: conn.target, modelName: conn.modelName || undefined, ...(input ? { input } : {}), ...(token ? { auth: { scheme: 'bearer', token } } : {}) };
}

function trainSpec(source: DataSource): DataSourceSpec {
  if (source.kind === 'builtin') return { kind: 'idx', dir: 'builtin:fashion-mnist', split: 'train' };
  if (source.kind === 'idx') return { kind: 'idx', dir: path.resolve(source.dir), split: 'train' };
  if (!existsSync(source.dir)) throw new Error(`no folder at ${source.dir}`);
  return { kind: 'folder', dir: path.resolve(source.dir) };
}

function testSpec(source: DataSource): DataSourceSpec | undefined {
  if (source.kind === 'builtin') return { kind: 'idx', dir: 'builtin:fashion-mnist', split: 'test' };
  if (source.kind === 'idx' && tryFindIdxPair(path.resolve(source.dir), 'test')) return { kind: 'idx', dir: path.resolve(source.dir), split: 'test' };
  return undefined;
}

/** The wizard's choices as a versioned recipe; the token travels only as an environment variable. */
export function buildRecipe(req: RunRequest): Recipe {
  const t = req.teacher;
  const test = req.data.testLimit > 0 ? testSpec(req.data.source) : undefined;
  return parseRecipe(
    {
      version: 1,
      name: req.name,
      teacher: {
        protocol: t.protocol,
        ...(t.protocol === 'onnx-local' ? { model: path.resolve(t.target) } : { url: t.target, ...(t.modelName ? { modelName: t.modelName } : {}) }),
        ...(t.input ? { input: { dtype: 'float32', scale: [0, 1], ...t.input } } : {}),
        ...(t.tokenKey ? { auth: { scheme: 'bearer', env: UI_TOKEN_ENV } } : {}),
      },
      data: { train: trainSpec(req.data.source), n: req.data.n, ...(test ? { test, testLimit: req.data.testLimit } : {}) },
      student: { key: req.student },
      method: req.method,
      budget: req.budget,
      training: req.training,
    },
    'wizard',
  );
}

function imageBase64(set: ImageSet, i: number): string {
  const per = set.height * set.width * set.channels;
  const bytes = new Uint8Array(per);
  const src = set.images.subarray(i * per, (i + 1) * per);
  for (let k = 0; k < per; k++) bytes[k] = Math.round(Math.min(1, Math.max(0, src[k])) * 255);
  return Buffer.from(bytes).toString('base64');
}
