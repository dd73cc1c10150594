/**
 * `distill experiment <spec|name>`: runs an experiment grid (see src-main/experiments/) and writes
 * results.csv, results.md and accuracy-vs-queries plots. Running it again skips finished cells.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defaultHome } from '../jobs/home.ts';
import { Store } from '../store/store.ts';
import { RESOURCES_DIR } from '../recipe/load-recipe.ts';
import { loadExperimentSpec } from '../experiments/experiment-spec.ts';
import { experimentSummary, runExperiment } from '../experiments/run-experiment.ts';
import { usageError as printUsageError } from './format.ts';

const USAGE = `usage: distill experiment <spec.yaml | shipped name, e.g. fashion-fewshot> [options]

  --out DIR      where results go (default: docs/results/<name>)
  --only LIST    comma-separated substrings; only cells whose id contains one run
                 (ids look like lenet5-half/fs-bbt/probabilities/5000/s7)
  --epochs N     override the spec's training epochs (recorded in results.md)
  --seeds LIST   comma-separated seeds that replace every grid block's seeds
                 (cells already done under other seeds stay in the results)
  --home DIR     where runs and the reply cache are stored
`;

const usageError = (message: string): number => printUsageError(message, USAGE);

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      only: { type: 'string' },
      epochs: { type: 'string' },
      seeds: { type: 'string' },
      home: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const arg = positionals[0];
  const file = existsSync(arg) ? arg : path.join(RESOURCES_DIR, 'experiments', `${arg}.yaml`);
  const { spec, baseDir } = loadExperimentSpec(file);
  if (values.epochs != null) {
    const e = Number(values.epochs);
    if (!Number.isInteger(e) || e < 1) return usageError(`--epochs must be a positive integer, got "${values.epochs}"`);
    spec.training.epochs = e;
  }
  if (values.seeds != null) {
    const seeds = values.seeds.split(',').map((v) => v.trim());
    if (!seeds.length || seeds.some((v) => !/^\d+$/.test(v)))
      return usageError(`--seeds must be comma-separated non-negative integers, got "${values.seeds}"`);
    for (const block of spec.grid) block.seeds = [...new Set(seeds.map(Number))];
  }
  const home = path.resolve(values.home ?? defaultHome());
  const store = Store.open(home);
  try {
    const outDir = path.resolve(values.out ?? path.join('docs', 'results', spec.name));
    const cells = await runExperiment({
      spec,
      baseDir,
      store,
      home,
      outDir,
      filter: values.only
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      log: (m) => process.stderr.write(`${m}\n`),
    });
    process.stdout.write(experimentSummary(cells, outDir));
    return cells.some((c) => c.status !== 'completed') ? 1 : 0;
  } finally {
    store.close();
  }
}
