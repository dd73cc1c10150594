/**
 * `distill` — the command-line front end. Secrets come from environment variables only.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { loadRecipeFile, RecipeError, RESOURCES_DIR } from '../recipe/load-recipe.ts';
import { startRun, resumeRun, ENGINE_VERSION, type RunSummary, type JobOptions } from '../jobs/run-distillation.ts';
import { validateRecipeReferences } from '../jobs/validate-references.ts';
import { defaultHome } from '../jobs/home.ts';
import { BACKEND_ORDER, initBackend, type BackendKey } from '../backends/select-backend.ts';
import { listStudents } from '../students/index.ts';
import { describeStudent } from '../students/describe.ts';
import { listMethods } from '../methods/index.ts';
import { Store } from '../store/store.ts';
import { eventPrinter } from './render-events.ts';
import { pct, duration, table, usageError } from './format.ts';
import { SUBCOMMANDS } from './subcommands.ts';
import { historyCommand, HISTORY_COMMANDS } from './history-commands.ts';

const USAGE = `distill ${ENGINE_VERSION} — black-box distillation of a cloud teacher into an edge student

usage:
  distill demo [--student KEY] [--epochs N] [--json]   run the built-in default end to end
  distill run <recipe.json|yaml> [--json]              run a recipe (Ctrl-C pauses it)
  distill resume <run> [--budget N] [--json]           continue a paused, cancelled or crashed run
                                                       (--budget raises its query budget to N)
  distill pause <run> | cancel <run>                   ask a running run (in any process) to stop
                                                       (cancel ends a paused or failed run at once)
  distill runs [--json]                                the run history
  distill show <run> [--json]                          recipe, metrics and artefacts of a run
  distill compare <run> <run>… [--json]                runs side by side
  distill history --format csv|json [--out FILE]       export the history
  distill validate <recipe>                            check a recipe without running it
  distill students [--json]                            the student zoo with params and FLOPs
  distill methods                                      the distillation methods

options:
  --backend tfjs-node-gpu|webgpu|tfjs-node|wasm|cpu   force a compute backend (default: best available)
  --workers N     training threads for run/demo/resume, data-parallel (default: the recipe's
                  training.workers, else DISTILL_WORKERS, else every core; one thread for a
                  student with too little arithmetic per parameter to gain, e.g. mlp at batch 64)
  --home DIR      the store and run folders (default: DISTILL_HOME or the platform's app-data folder)
  --project NAME  group runs under a project (default: "default")
  --checkpoints DIR   where checkpoints go (default: inside the run folder)
  --json          print one final JSON line on stdout (progress goes to stderr)
`;

const BACKENDS: readonly string[] = BACKEND_ORDER;

export async function main(argv: string[]): Promise<number> {
  const sub = SUBCOMMANDS[argv[0]];
  if (sub) {
    try {
      return await (await sub.load()).run(argv.slice(1));
    } catch (err) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      return 1;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        backend: { type: 'string' },
        home: { type: 'string' },
        project: { type: 'string' },
        checkpoints: { type: 'string' },
        student: { type: 'string' },
        epochs: { type: 'string' },
        workers: { type: 'string' },
        budget: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    process.stdout.write(`${ENGINE_VERSION}\n`);
    return 0;
  }
  if (values.help || !command) {
    process.stdout.write(
      USAGE +
        Object.entries(SUBCOMMANDS)
          .map(([k, v]) => `  distill ${k} …`.padEnd(55) + v.summary + '\n')
          .join(''),
    );
    return command || values.help ? 0 : 2;
  }
  if (values.backend && !BACKENDS.includes(values.backend)) {
    process.stderr.write(`--backend must be one of ${BACKENDS.join(', ')}, got "${values.backend}"\n`);
    return 2;
  }
  let workers: number | undefined;
  if (values.workers !== undefined) {
    workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1)
      return usageError(`--workers must be a positive integer, got "${values.workers}"`);
  }
  let budgetQueries: number | undefined;
  if (values.budget !== undefined) {
    if (command !== 'resume')
      return usageError('--budget applies to resume only (a new run takes its budget from the recipe)');
    budgetQueries = Number(values.budget);
    if (!Number.isInteger(budgetQueries) || budgetQueries < 1)
      return usageError(`--budget must be a positive integer, got "${values.budget}"`);
  }
  const home = values.home ? path.resolve(values.home) : defaultHome();
  let store: Store | undefined;
  const openStore = () => (store ??= Store.open(home));
  try {
    switch (command) {
      case 'demo':
      case 'run':
      case 'resume': {
        const signal: NonNullable<JobOptions['signal']> = {};
        // Ctrl-C pauses cleanly after the current step; a second Ctrl-C quits at once
        // (at most the epoch in progress is lost: the last checkpoint stays).
        const onSigint = () => {
          if (signal.stop) process.exit(130);
          signal.stop = 'pause';
          process.stderr.write('\npausing after the current step (Ctrl-C again to quit now)…\n');
        };
        process.on('SIGINT', onSigint);
        const job: JobOptions = {
          store: openStore(),
          home,
          backend: values.backend as BackendKey | undefined,
          workers,
          onEvent: eventPrinter(),
          signal,
          checkpointDir: values.checkpoints ? path.resolve(values.checkpoints) : undefined,
        };
        let summary: RunSummary;
        if (command === 'resume') {
          if (!rest[0]) return usageError('distill resume needs a run id (see distill runs)');
          summary = await resumeRun({ ...job, runId: rest[0], budgetQueries });
        } else {
          const file = command === 'demo' ? path.join(RESOURCES_DIR, 'recipes', 'demo.yaml') : rest[0];
          if (!file) return usageError('distill run needs a recipe file');
          const { recipe, baseDir } = loadRecipeFile(file);
          if (values.student) recipe.student.key = values.student;
          if (values.epochs) {
            const e = Number(values.epochs);
            if (!Number.isInteger(e) || e < 1)
              return usageError(`--epochs must be a positive integer, got "${values.epochs}"`);
            recipe.training.epochs = e;
          }
          summary = await startRun({ ...job, recipe, baseDir, project: values.project });
        }
        process.off('SIGINT', onSigint);
        const project = job.store.getRun(summary.runId).project;
        const projectQueries = job.store.projectQueries(project);
        if (values.json) process.stdout.write(JSON.stringify({ ...jsonLine(summary), project, projectQueries }) + '\n');
        else
          process.stdout.write(
            summaryTable(summary) + `\nproject "${project}": ${projectQueries} teacher queries over all its runs\n`,
          );
        // The whole command, start-up and export included (the table's wall time is the run's).
        if (command === 'demo')
          (values.json ? process.stderr : process.stdout).write(
            `distill demo took ${Math.round(process.uptime())} s\n`,
          );
        return 0;
      }
      case 'validate': {
        if (!rest[0]) return usageError('distill validate needs a recipe file');
        const { recipe, baseDir } = loadRecipeFile(rest[0]);
        const problems = await validateRecipeReferences(recipe, baseDir);
        if (problems.length) throw new RecipeError(rest[0], problems);
        process.stdout.write(`${rest[0]}: ok (recipe "${recipe.name}", version ${recipe.version})\n`);
        return 0;
      }
      case 'students': {
        // Building models needs an initialised backend; cpu is enough to count parameters.
        await initBackend({ force: (values.backend as BackendKey | undefined) ?? 'cpu' });
        const rows = listStudents().map((s) => {
          const m = s.build({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
          const d = describeStudent(m);
          m.dispose();
          return { key: s.key, title: s.title, params: d.params, flops: d.flops };
        });
        if (values.json) process.stdout.write(JSON.stringify(rows) + '\n');
        else
          process.stdout.write(
            table([
              ['student', 'params', 'MFLOPs (28×28×1)', 'description'],
              ...rows.map((r) => [r.key, r.params.toLocaleString('en-US'), (r.flops / 1e6).toFixed(3), r.title]),
            ]) + '\n',
          );
        return 0;
      }
      case 'methods':
        for (const m of listMethods())
          process.stdout.write(`${m.key.padEnd(10)} ${m.title}\n           ${m.reference}\n           ${m.formula}\n`);
        return 0;
      default:
        if (HISTORY_COMMANDS.includes(command)) {
          return historyCommand(command, rest, {
            store: openStore(),
            json: values.json,
            format: values.format,
            out: values.out,
          });
        }
        process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof RecipeError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  } finally {
    store?.close();
  }
}

function jsonLine(s: RunSummary) {
  return {
    runId: s.runId,
    status: s.status,
    backend: s.backend.key,
    accuracy: s.accuracy,
    fidelity: s.fidelity,
    teacherAccuracy: s.teacherAccuracy,
    queries: s.queries,
    seconds: Number(s.seconds.toFixed(2)),
    onnx: s.onnx?.path ?? null,
    student: s.student.key,
    method: s.method.key,
    evaluationQueries: s.evaluationQueries,
    onnxMaxAbsDiff: s.onnx?.maxAbsDiff ?? null,
    runDir: s.runDir,
  };
}

function summaryTable(s: RunSummary): string {
  const rows = [
    ['', ''],
    ['run', `${s.runId} (${s.status}${s.resumedFromEpoch ? `, resumed after epoch ${s.resumedFromEpoch}` : ''})`],
    ['backend', `${s.backend.key} (${s.backend.reason})`],
    ['teacher', `${s.teacher.name} via ${s.teacher.protocol}, replies: ${s.teacher.responseKind}`],
    ['teacher accuracy', pct(s.teacherAccuracy)],
    ['student', `${s.student.key} (${s.student.params.toLocaleString('en-US')} params)`],
    ['method', `${s.method.key} — targets: ${s.method.targets}`],
    ['local images', `${s.data.n} from ${s.data.train}`],
    ['held-out images', `${s.data.testCount}${s.data.test ? ` from ${s.data.test}` : ''}`],
    ['student accuracy', `${pct(s.accuracy)} (final epoch)`],
    ['fidelity', pct(s.fidelity)],
    [
      'teacher queries',
      `${s.queries} of ${s.budget} budget${s.costEstimate ? ` (≈ ${s.costEstimate.toFixed(2)} at the set price)` : ''}; ${s.evaluationQueries} more for evaluation`,
    ],
    ['wall time', duration(s.seconds)],
    ['onnx', s.onnx ? `${s.onnx.path} (max |diff| vs tfjs ${s.onnx.maxAbsDiff.toExponential(2)})` : 'not exported'],
  ];
  if (s.status !== 'completed') rows.push(['next', `distill resume ${s.runId}`]);
  return '\n' + table(rows).split('\n').slice(2).join('\n');
}
