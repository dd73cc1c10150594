/**
 * `distill` — the command-line front end. Secrets come from environment variables only.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { loadRecipeFile, RecipeError, RESOURCES_DIR } from '../recipe/load-recipe.ts';
import { runDistillation, ENGINE_VERSION, type RunSummary } from '../jobs/run-distillation.ts';
import { validateRecipeReferences } from '../jobs/validate-references.ts';
import { defaultHome } from '../jobs/home.ts';
import { initBackend, type BackendKey } from '../backends/select-backend.ts';
import { listStudents } from '../students/index.ts';
import { describeStudent } from '../students/describe.ts';
import { listMethods } from '../methods/index.ts';
import { eventPrinter } from './render-events.ts';
import { pct, duration, table } from './format.ts';
import { SUBCOMMANDS } from './subcommands.ts';

const USAGE = `distill ${ENGINE_VERSION} — black-box distillation of a cloud teacher into an edge student

usage:
  distill demo [--student KEY] [--epochs N] [--json]   run the built-in default end to end
  distill run <recipe.json|yaml> [--json]              run a recipe
  distill validate <recipe>                            check a recipe without running it
  distill students [--json]                            the student zoo with params and FLOPs
  distill methods                                      the distillation methods

options:
  --backend tfjs-node-gpu|tfjs-node|wasm|cpu   force a compute backend (default: best available)
  --home DIR      where runs are stored (default: DISTILL_HOME or the platform's app-data folder)
  --json          print one final JSON line on stdout (progress goes to stderr)
`;

const BACKENDS = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

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
        student: { type: 'string' },
        epochs: { type: 'string' },
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
    process.stdout.write(USAGE + Object.entries(SUBCOMMANDS).map(([k, v]) => `  distill ${k} …`.padEnd(55) + v.summary + '\n').join(''));
    return command || values.help ? 0 : 2;
  }
  if (values.backend && !BACKENDS.includes(values.backend)) {
    process.stderr.write(`--backend must be one of ${BACKENDS.join(', ')}, got "${values.backend}"\n`);
    return 2;
  }
  const home = values.home ? path.resolve(values.home) : defaultHome();
  try {
    switch (command) {
      case 'demo':
      case 'run': {
        const file = command === 'demo' ? path.join(RESOURCES_DIR, 'recipes', 'demo.yaml') : rest[0];
        if (!file) {
          process.stderr.write('distill run needs a recipe file\n');
          return 2;
        }
        const { recipe, baseDir } = loadRecipeFile(file);
        if (values.student) recipe.student.key = values.student;
        if (values.epochs) {
          const e = Number(values.epochs);
          if (!Number.isInteger(e) || e < 1) {
            process.stderr.write(`--epochs must be a positive integer, got "${values.epochs}"\n`);
            return 2;
          }
          recipe.training.epochs = e;
        }
        const summary = await runDistillation({
          recipe,
          baseDir,
          home,
          backend: values.backend as BackendKey | undefined,
          onEvent: eventPrinter(),
        });
        if (values.json) process.stdout.write(JSON.stringify(jsonLine(summary)) + '\n');
        else process.stdout.write(summaryTable(summary) + '\n');
        return 0;
      }
      case 'validate': {
        if (!rest[0]) {
          process.stderr.write('distill validate needs a recipe file\n');
          return 2;
        }
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
        for (const m of listMethods()) process.stdout.write(`${m.key.padEnd(10)} ${m.title}\n           ${m.reference}\n           ${m.formula}\n`);
        return 0;
      default:
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
  }
}

function jsonLine(s: RunSummary) {
  return {
    runId: s.runId,
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
    ['run', s.runId],
    ['backend', `${s.backend.key} (${s.backend.reason})`],
    ['teacher', `${s.teacher.name} via ${s.teacher.protocol}, replies: ${s.teacher.responseKind}`],
    ['teacher accuracy', pct(s.teacherAccuracy)],
    ['student', `${s.student.key} (${s.student.params.toLocaleString('en-US')} params)`],
    ['method', `${s.method.key} — targets: ${s.method.targets}`],
    ['local images', `${s.data.n} from ${s.data.train}`],
    ['held-out images', `${s.data.testCount}${s.data.test ? ` from ${s.data.test}` : ''}`],
    ['student accuracy', `${pct(s.accuracy)} (final epoch)`],
    ['fidelity', pct(s.fidelity)],
    ['teacher queries', `${s.queries} of ${s.budget} budget${s.costEstimate ? ` (≈ ${s.costEstimate.toFixed(2)} at the set price)` : ''}; ${s.evaluationQueries} more for evaluation`],
    ['wall time', duration(s.seconds)],
    ['onnx', s.onnx ? `${s.onnx.path} (max |diff| vs tfjs ${s.onnx.maxAbsDiff.toExponential(2)})` : 'not exported'],
  ];
  return '\n' + table(rows).split('\n').slice(2).join('\n');
}

