import { test } from 'node:test';
import assert from 'node:assert/strict';
import { throttleEvents } from '../../src-main/worker/throttle-events.ts';
import type { RunEvent } from '../../src-main/jobs/run-events.ts';

const step = (s: number): RunEvent => ({ type: 'step', epoch: 1, epochs: 1, step: s, steps: 100, etaSeconds: 1 });

test('step events collapse to at most one per interval, keeping the latest; others pass at once', async () => {
  const got: RunEvent[] = [];
  let t = 0;
  const th = throttleEvents(
    (e) => got.push(e),
    250,
    () => t,
  );
  th.push(step(1)); // first passes immediately
  t = 10;
  th.push(step(2));
  t = 20;
  th.push(step(3));
  th.push({ type: 'log', message: 'hello' }); // flushes the pending step first, then itself
  assert.deepEqual(
    got.map((e) => (e.type === 'step' ? e.step : e.type)),
    [1, 3, 'log'],
  );
  t = 30;
  for (let s = 4; s < 50; s++) th.push(step(s));
  th.flush();
  assert.deepEqual(
    got.map((e) => (e.type === 'step' ? e.step : e.type)),
    [1, 3, 'log', 49],
  );
});

test('a pending step is delivered after the interval without further events', async () => {
  const got: RunEvent[] = [];
  const th = throttleEvents((e) => got.push(e), 30);
  th.push(step(1));
  th.push(step(2));
  assert.equal(got.length, 1);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(got.length, 2);
});
