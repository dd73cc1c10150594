/**
 * The whole wizard in Debian's Chromium against `distill serve` (a real child process) and the
 * built-in teacher over kserve-v2 on loopback, with a small budget: project → teacher (an
 * unreachable one first) → data (a bad folder first) → student → method → train (pause, resume)
 * → evaluate → export → downloaded bundle → history. Screenshots of every step go to
 * test/e2e/screenshots/; any console error or page error fails the test.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTeacherServer, type TeacherServer } from '../../src-main/teacher-server/start-teacher-server.ts';
import { Store } from '../../src-main/store/store.ts';
import { CHROMIUM, requireSystemDep } from '../../scripts/system-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = path.join(root, 'test', 'e2e', 'screenshots');
const TEACHER_TOKEN = 'e2e-teacher-token';

let serve: ChildProcess;
let url: string;
let teacher: TeacherServer;
let browser: Browser;
let tmp: string;
const problems: string[] = [];

before(async () => {
  requireSystemDep('chromium');
  const build = spawnSync('npm', ['run', 'build:renderer'], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr + build.stdout);
  mkdirSync(shots, { recursive: true });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'distill-e2e-'));
  teacher = await startTeacherServer({
    model: path.join(root, 'resources', 'teachers', 'fashion-mnist-cnn.json'),
    protocols: ['kserve-v2'],
    token: TEACHER_TOKEN,
  });
  serve = spawn(process.execPath, [path.join(root, 'bin', 'distill.js'), 'serve', '--home', path.join(tmp, 'home')], {
    cwd: tmp,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    serve.stdout?.on('data', (d: Buffer) => {
      out += d;
      const m = /Open: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64})/.exec(out);
      if (m) resolve(m[1]);
    });
    serve.on('exit', (code) => reject(new Error(`distill serve exited ${code}: ${out}`)));
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // playwright-core gives each launch a fresh temporary profile (its own --user-data-dir).
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
});

after(async () => {
  await browser?.close();
  serve?.kill('SIGTERM');
  await teacher?.close();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
const next = (page: Page) => page.getByRole('button', { name: 'Next' }).click();
const status = (page: Page) => page.getByTestId('run-status');

test('walks the whole wizard and downloads a bundle', { timeout: 600_000 }, async () => {
  const page = await newPage();
  try {
    await walk(page);
  } catch (err) {
    await page.screenshot({ path: path.join(tmp, 'failure.png'), fullPage: true });
    throw new Error(
      `${(err as Error).message}\n(screenshot: ${path.join(tmp, 'failure.png')}; console: ${problems.join(' | ')})`,
    );
  }
});

async function walk(page: Page): Promise<void> {
  await page.goto(url);
  assert.ok(!page.url().includes('token='), 'the token leaves the address bar');

  // 1 Project — Next is refused until a project exists.
  await next(page);
  await page.getByRole('alert').filter({ hasText: 'Create or open a project' }).waitFor();
  // Keyboard only: type the name, Enter creates, Tab reaches Next, Enter moves on.
  await page.getByLabel('New project name').focus();
  await page.keyboard.type('e2e-project');
  await page.keyboard.press('Enter');
  await page.getByText('Project: e2e-project').waitFor();
  await shot(page, '01-project');
  await page.getByRole('button', { name: 'Next' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: '2 · Teacher' }).waitFor();
  assert.match(
    await page.evaluate(() => document.activeElement?.textContent ?? ''),
    /Step 2 of 8: Teacher/,
    'focus moves to the new step',
  );

  // 2 Teacher — an unreachable one is reported, then the real one answers.
  await page.getByLabel('Protocol').selectOption('kserve-v2');
  await page.getByLabel('Endpoint URL').fill('http://127.0.0.1:9');
  await page.getByLabel('Model name').fill('fashion-mnist-cnn');
  await page.getByRole('button', { name: 'Test connection' }).click();
  await page.getByRole('alert').filter({ hasText: 'Cannot reach the teacher' }).waitFor({ timeout: 60_000 });
  await shot(page, '02-teacher-unreachable');
  await next(page);
  await page.getByRole('alert').filter({ hasText: 'Test the connection' }).waitFor();
  await page.getByLabel('Endpoint URL').fill(teacher.url);
  await page.getByLabel('Access token (optional)').fill(TEACHER_TOKEN);
  // The built-in teacher's manifest says its client normalises with mean 0.286, std 0.353.
  await page.getByText('Input normalisation').click();
  await page.getByLabel(/^Mean per channel/).fill('0.286');
  await page.getByLabel(/^Standard deviation/).fill('0.353');
  await page.getByRole('button', { name: 'Test connection' }).click();
  const result = page.getByTestId('teacher-result');
  await result.waitFor({ timeout: 60_000 });
  assert.match(await result.innerText(), /10 classes/);
  assert.match(await result.innerText(), /ms for 2 images/);
  assert.equal(await page.getByLabel('Access token (optional)').inputValue(), '', 'the token is not kept in the page');
  await shot(page, '02-teacher');
  await next(page);

  // 3 Data — a missing folder and a folder without images are refused; then Fashion-MNIST.
  await page.getByLabel('Image folder').check();
  await page.getByLabel('Folder', { exact: true }).fill(path.join(tmp, 'does-not-exist'));
  await page.getByRole('button', { name: 'Load images' }).click();
  await page.getByRole('alert').filter({ hasText: 'Cannot use this data' }).waitFor();
  const empty = path.join(tmp, 'not-images');
  mkdirSync(empty);
  writeFileSync(path.join(empty, 'notes.txt'), 'no images here');
  await page.getByLabel('Folder', { exact: true }).fill(empty);
  await page.getByRole('button', { name: 'Load images' }).click();
  await page.getByRole('alert').filter({ hasText: 'Cannot use this data' }).waitFor();
  await shot(page, '03-data-bad-folder');
  await next(page);
  await page.getByRole('alert').filter({ hasText: 'Load the images first' }).waitFor();
  await page.getByLabel('Built-in Fashion-MNIST').check();
  await page.getByRole('button', { name: 'Load images' }).click();
  await page.getByTestId('data-summary').waitFor({ timeout: 60_000 });
  await page.getByLabel(/^N — local images/).fill('200');
  await page.getByLabel(/^Held-out images/).fill('200');
  await shot(page, '03-data');
  await next(page);

  // 4 Student
  await page.locator('[data-student="lenet5-half"]').click({ timeout: 120_000 });
  await shot(page, '04-student');
  await next(page);

  // 5 Method and budget — an over-budget plan blocks; a fitting one passes.
  await page.getByLabel('Method', { exact: true }).selectOption('kd-soft');
  await page.getByLabel(/^Query budget/).fill('100');
  await page.getByRole('alert').filter({ hasText: 'raise the budget' }).waitFor();
  await page.getByLabel(/^Query budget/).fill('300');
  await page.getByLabel('Epochs').fill('4');
  // The wizard starts at cosine; pick the other schedule, to see the choice reach the run's recipe.
  assert.equal(await page.getByLabel('Rate schedule').inputValue(), 'cosine');
  await page.getByLabel('Rate schedule').selectOption('constant');
  await page.getByTestId('plan').filter({ hasText: 'Estimated cost' }).waitFor();
  await page.getByRole('alert').filter({ hasText: 'raise the budget' }).waitFor({ state: 'detached' });
  await shot(page, '05-method-budget');
  await next(page);

  // 6 Train — pause as soon as it runs, resume, and let it finish.
  await page.getByRole('button', { name: 'Start training' }).click();
  await page.getByRole('button', { name: 'Pause' }).click();
  await status(page)
    .filter({ hasText: /^paused$/ })
    .waitFor({ timeout: 180_000 });
  await shot(page, '06-train-paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  await status(page)
    .filter({ hasText: /^completed$/ })
    .waitFor({ timeout: 300_000 });
  await shot(page, '06-train');
  const store = Store.open(path.join(tmp, 'home'));
  try {
    const training = (store.listRuns()[0].recipe as { training: Record<string, unknown> }).training;
    assert.deepEqual([training.epochs, training.learningRate, training.schedule], [4, 0.005, 'constant']);
  } finally {
    store.close();
  }
  await next(page);

  // 7 Evaluate
  await page.getByTestId('eval-accuracy').waitFor({ timeout: 120_000 });
  await page.getByRole('table', { name: 'Confusion matrix' }).waitFor();
  await shot(page, '07-evaluate');
  await next(page);

  // 8 Export — the bundle downloads as .tar.gz holding the ONNX files and the signature.
  await page.getByRole('button', { name: 'Export bundle' }).click();
  const link = page.getByTestId('download');
  await link.waitFor({ timeout: 300_000 });
  await shot(page, '08-export');
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const file = path.join(tmp, download.suggestedFilename());
  await download.saveAs(file);
  assert.match(download.suggestedFilename(), /^distill-bundle-.*\.tar\.gz$/);
  const tar = gunzipSync(readFileSync(file));
  const names: string[] = [];
  for (let off = 0; off + 512 <= tar.length;) {
    const name = tar
      .subarray(off, off + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    if (!name) break;
    const size = parseInt(
      tar
        .subarray(off + 124, off + 136)
        .toString('utf8')
        .replace(/\0.*$/s, ''),
      8,
    );
    names.push(path.basename(name));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  for (const f of ['model.onnx', 'model.fp16.onnx', 'model.int8.onnx', 'signature.json', 'model-card.md'])
    assert.ok(names.includes(f), `${f} in ${names.join(', ')}`);

  // History, in the dark theme too.
  await page.getByRole('button', { name: 'History' }).click();
  await page.getByRole('table', { name: 'Runs' }).waitFor();
  await page
    .getByRole('checkbox', { name: /^Select run/ })
    .first()
    .check();
  await page.getByText('Accuracy and fidelity').first().waitFor();
  await shot(page, '09-history');
  await page.getByLabel('Theme').selectOption('dark');
  await shot(page, '09-history-dark');

  assert.deepEqual(problems, [], problems.join('\n'));
  assert.ok(existsSync(path.join(shots, '08-export.png')));
}
