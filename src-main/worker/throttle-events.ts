/**
 * Throttles a run's progress for the UI: phase, log and epoch events pass at once (they are rare
 * and each matters), while step and label-progress collapse to the latest one at most every
 * `intervalMs` (default 250 ms, about four a second). `flush()` sends what is pending.
 */
import type { RunEvent } from '../jobs/run-events.ts';

export interface EventThrottle {
  push(e: RunEvent): void;
  flush(): void;
}

export function throttleEvents(
  send: (e: RunEvent) => void,
  intervalMs = 250,
  now: () => number = () => performance.now(),
): EventThrottle {
  let last = -Infinity;
  let pending: RunEvent | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending) {
      const e = pending;
      pending = undefined;
      last = now();
      send(e);
    }
  };
  return {
    push(e) {
      if (e.type !== 'step' && e.type !== 'label-progress') {
        flush();
        send(e);
        return;
      }
      pending = e;
      const wait = intervalMs - (now() - last);
      if (wait <= 0) flush();
      else timer ??= setTimeout(flush, wait);
    },
    flush,
  };
}
