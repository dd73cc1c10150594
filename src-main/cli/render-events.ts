import type { RunEvent } from '../jobs/run-events.ts';
import { duration, pct } from './format.ts';

/** Prints run events as human-readable progress lines; stdout stays free for results. */
export function eventPrinter(write: (line: string) => void = stderrWrite): (e: RunEvent) => void {
  const tty = Boolean(process.stderr.isTTY) && write === stderrWrite;
  return (e) => {
    switch (e.type) {
      case 'phase':
      case 'log':
        write(`${e.type === 'phase' ? '==' : '  '} ${e.message}`);
        break;
      case 'label-progress':
        if (e.done === e.total || tty)
          write(
            `   teacher: ${e.done}/${e.total} labelled, ${e.spent}/${Number.isFinite(e.limit) ? e.limit : '∞'} queries spent, ETA ${duration(e.etaSeconds)}`,
          );
        break;
      case 'step':
        if (tty)
          process.stderr.write(
            `\r   epoch ${e.epoch}/${e.epochs} step ${e.step}/${e.steps}  ETA ${duration(e.etaSeconds)}   `,
          );
        break;
      case 'epoch': {
        const m = e.metrics;
        if (tty) process.stderr.write('\r');
        write(
          `   epoch ${String(m.epoch).padStart(3)}  loss ${m.loss.toFixed(4)}  acc ${pct(m.accuracy)}  fidelity ${pct(m.fidelity)}  ` +
            `${Math.round(m.samplesPerSecond)} samples/s  queries ${m.queries}  ETA ${duration(e.etaSeconds)}`,
        );
        break;
      }
    }
  };
}

export function stderrWrite(line: string): void {
  process.stderr.write(line + '\n');
}
