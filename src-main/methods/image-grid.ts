/**
 * PNG grids of what a method sent to the teacher, so a user can see what the budget bought.
 * Each tile is one image (gray or RGB, values in [0, 1]) with a coloured bar under it whose colour
 * is the teacher's top-1 class; the sidecar JSON lists the class of every tile in reading order.
 */
import { PNG } from 'pngjs';
import type { MethodContext } from './method.ts';

/** Ten distinguishable colours (Tableau 10), cycled for more classes. */
const PALETTE: [number, number, number][] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

export function classColour(c: number): [number, number, number] {
  return PALETTE[((c % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

export interface GridInput {
  images: Float32Array;
  count: number;
  dims: { height: number; width: number; channels: number };
  labels: ArrayLike<number>;
  /** Tiles shown (first ones), default 64. */
  max?: number;
  columns?: number;
}

export function renderImageGrid(g: GridInput): Buffer {
  const { height: H, width: W, channels: C } = g.dims;
  const n = Math.min(g.count, g.max ?? 64);
  const cols = Math.max(1, Math.min(n, g.columns ?? 8));
  const rows = Math.max(1, Math.ceil(n / cols));
  const bar = 3;
  const pad = 2;
  const tileW = W + pad;
  const tileH = H + bar + pad;
  const png = new PNG({ width: cols * tileW + pad, height: rows * tileH + pad });
  png.data.fill(255);
  const per = H * W * C;
  for (let i = 0; i < n; i++) {
    const ox = pad + (i % cols) * tileW;
    const oy = pad + Math.floor(i / cols) * tileH;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = ((oy + y) * png.width + ox + x) * 4;
        for (let k = 0; k < 3; k++) {
          const v = g.images[i * per + (y * W + x) * C + (C === 3 ? k : 0)];
          png.data[o + k] = Math.max(0, Math.min(255, Math.round(v * 255)));
        }
        png.data[o + 3] = 255;
      }
    }
    const colour = classColour(g.labels[i]);
    for (let y = H; y < H + bar; y++) {
      for (let x = 0; x < W; x++) {
        const o = ((oy + y) * png.width + ox + x) * 4;
        png.data[o] = colour[0];
        png.data[o + 1] = colour[1];
        png.data[o + 2] = colour[2];
      }
    }
  }
  return PNG.sync.write(png);
}

/** Saves `<name>.png` and `<name>.json` through the run's artifact hook, when the run provides one. */
export function saveSentGrid(
  ctx: Pick<MethodContext, 'saveArtifact'>,
  name: string,
  g: GridInput,
  classNames?: string[],
): void {
  if (!ctx.saveArtifact) return;
  const n = Math.min(g.count, g.max ?? 64);
  ctx.saveArtifact(`${name}.png`, renderImageGrid(g));
  const labels = Array.from({ length: n }, (_, i) => g.labels[i]);
  ctx.saveArtifact(
    `${name}.json`,
    JSON.stringify(
      {
        what: `${name}: the first ${n} of ${g.count} images sent to the teacher; the bar under each tile is its top-1 class`,
        columns: Math.min(n, g.columns ?? 8),
        palette: PALETTE.map((c, i) => ({ class: i, name: classNames?.[i], rgb: c })),
        labels,
      },
      null,
      2,
    ),
  );
}
