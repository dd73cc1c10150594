// The Debian packages the test suite needs, in one list: the test runner (scripts/run-tests.mjs)
// installs the missing ones before any test starts, and the tests that use them ask for them here,
// failing with the same words when one is absent. None of them is needed to run the workbench.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** Where Debian's python3 lives: python3-onnx installs into it, whatever python3 comes first on PATH. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const SYSTEM_DEPS = [
  {
    debian: 'chromium',
    usedFor: "the wizard's end-to-end tests (playwright-core drives it)",
    present: () => existsSync(CHROMIUM),
  },
  {
    debian: 'python3-onnx',
    usedFor: 'onnx.checker on every exported model',
    present: () => spawnSync(DEBIAN_PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0,
  },
  {
    debian: 'dataset-fashion-mnist',
    usedFor: 'the data tests on the full 70,000 images',
    present: () => existsSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`),
  },
];

export function installCommand(packages) {
  return `sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`;
}

/** Packages a test process has already found, so that a check per exported file costs one look. */
const found = new Set();

/** Throws, with the command that installs it, when a test's Debian package is missing. */
export function requireSystemDep(debian) {
  if (found.has(debian)) return;
  const dep = SYSTEM_DEPS.find((d) => d.debian === debian);
  if (!dep) throw new Error(`unknown system dependency ${debian}`);
  if (!dep.present()) {
    throw new Error(
      `${debian} is missing (${dep.usedFor}): \`npm test\` installs it, or run \`${installCommand([debian])}\``,
    );
  }
  found.add(debian);
}

function canRun(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/**
 * Installs the missing packages with apt-get when this user may (root, or sudo without a password),
 * else says what to run. Returns true when every package is there afterwards.
 */
export function ensureSystemDeps({ log = (s) => process.stderr.write(`${s}\n`) } = {}) {
  const missing = SYSTEM_DEPS.filter((d) => !d.present());
  if (missing.length === 0) return true;
  const names = missing.map((d) => d.debian);
  const why = missing.map((d) => `  ${d.debian}: ${d.usedFor}`).join('\n');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = root ? [] : canRun('sudo', ['-n', 'true']) ? ['sudo', '-n'] : undefined;
  const hasApt = canRun('apt-get', ['--version']);
  if (!hasApt || sudo === undefined || process.env.DISTILL_TEST_NO_INSTALL === '1') {
    const reason = !hasApt
      ? 'this machine has no apt-get'
      : sudo === undefined
        ? 'installing needs root or sudo without a password'
        : 'DISTILL_TEST_NO_INSTALL=1 asks not to install them';
    log(
      `The tests need these Debian packages, and ${reason}:\n${why}\nInstall them, then run npm test again:\n  ${installCommand(names)}`,
    );
    return false;
  }
  const started = Date.now();
  log(`# installing the Debian packages the tests use: ${names.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['apt-get', 'update', '-qq'],
    ['apt-get', 'install', '-y', '-qq', ...names],
  ]) {
    const [cmd, ...rest] = [...sudo, ...args];
    const r = spawnSync(cmd, rest, { env, encoding: 'utf8' });
    if (r.status !== 0) {
      log(`${[cmd, ...rest].join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout || '').trim()}`);
      return false;
    }
  }
  const still = SYSTEM_DEPS.filter((d) => !d.present()).map((d) => d.debian);
  if (still.length > 0) {
    log(`apt-get finished but these are still missing: ${still.join(', ')}`);
    return false;
  }
  log(`# installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return true;
}
