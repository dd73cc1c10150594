/**
 * A small line plot as PNG (pngjs, no other dependency): test accuracy against queries used, one line
 * per method, a dashed line at the teacher's accuracy. Text is drawn with a built-in 3×5 pixel font
 * (digits, '%', 'k', '.', and the few letters of the axis titles); the legend maps colours to methods.
 */
import { PNG } from 'pngjs';
import { classColour } from '../methods/image-grid.ts';

const GLYPHS: Record<string, string[]> = {
  '0': ['111', '101', '101', '101', '111'],
  '1': ['010', '110', '010', '010', '111'],
  '2': ['111', '001', '111', '100', '111'],
  '3': ['111', '001', '111', '001', '111'],
  '4': ['101', '101', '111', '001', '001'],
  '5': ['111', '100', '111', '001', '111'],
  '6': ['111', '100', '111', '101', '111'],
  '7': ['111', '001', '010', '010', '010'],
  '8': ['111', '101', '111', '101', '111'],
  '9': ['111', '101', '111', '001', '111'],
  '%': ['101', '001', '010', '100', '101'],
  '.': ['000', '000', '000', '000', '010'],
  '-': ['000', '000', '111', '000', '000'],
  ' ': ['000', '000', '000', '000', '000'],
};

function glyph(ch: string): string[] {
  if (GLYPHS[ch]) return GLYPHS[ch];
  // Letters: a filled-block fallback drawn from a 3×5 table for a–z.
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const shapes = [
    '010101111101101',
    '110101110101110',
    '011100100100011',
    '110101101101110',
    '111100110100111',
    '111100110100100',
    '011100101101011',
    '101101111101101',
    '111010010010111',
    '001001001101010',
    '101101110101101',
    '100100100100111',
    '101111111101101',
    '110101101101101',
    '010101101101010',
    '110101110100100',
    '010101101110011',
    '110101110101101',
    '011100010001110',
    '111010010010010',
    '101101101101111',
    '101101101101010',
    '101101111111101',
    '101101010101101',
    '101101010010010',
    '111001010100111',
  ];
  const i = letters.indexOf(ch.toLowerCase());
  if (i < 0) return GLYPHS[' '];
  const s = shapes[i];
  return [0, 1, 2, 3, 4].map((r) => s.slice(r * 3, r * 3 + 3));
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export function renderPlot(
  series: Series[],
  opts: { title: string; teacher?: number; width?: number; height?: number },
): Buffer {
  const W = opts.width ?? 720;
  const H = opts.height ?? 440;
  const png = new PNG({ width: W, height: H });
  png.data.fill(255);
  const set = (x: number, y: number, c: [number, number, number]) => {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const o = (y * W + x) * 4;
    png.data[o] = c[0];
    png.data[o + 1] = c[1];
    png.data[o + 2] = c[2];
    png.data[o + 3] = 255;
  };
  const text = (s: string, x: number, y: number, c: [number, number, number] = [0, 0, 0], scale = 2) => {
    for (const ch of s) {
      const g = glyph(ch);
      g.forEach((row, r) =>
        [...row].forEach((bit, col) => {
          if (bit === '1')
            for (let a = 0; a < scale; a++)
              for (let b = 0; b < scale; b++) set(x + col * scale + a, y + r * scale + b, c);
        }),
      );
      x += 4 * scale;
    }
  };
  const line = (x0: number, y0: number, x1: number, y1: number, c: [number, number, number], dash = 0, thick = 1) => {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let i = 0; i <= n; i++) {
      if (dash && Math.floor(i / dash) % 2) continue;
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let a = 0; a < thick; a++) for (let b = 0; b < thick; b++) set(x + a, y + b, c);
    }
  };
  const left = 60;
  const right = W - 190;
  const top = 40;
  const bottom = H - 50;
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y).concat(opts.teacher ? [opts.teacher] : []);
  // Queries on a log axis: budgets span an order of magnitude or more.
  const lx0 = Math.log10(Math.min(...xs, 1000));
  const lx1 = Math.log10(Math.max(...xs, 10000)) + 0.05;
  const y0 = Math.floor(Math.min(...ys, 0.7) * 20) / 20;
  const y1 = Math.min(1, Math.ceil(Math.max(...ys) * 20) / 20 + 0.01);
  const px = (x: number) => left + ((Math.log10(x) - lx0) / (lx1 - lx0)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  text(opts.title, left, 12);
  line(left, bottom, right, bottom, [0, 0, 0]);
  line(left, top, left, bottom, [0, 0, 0]);
  for (let v = y0; v <= y1 + 1e-9; v += 0.05) {
    line(left - 4, py(v), left, py(v), [0, 0, 0]);
    line(left + 1, py(v), right, py(v), [225, 225, 225], 2);
    text(`${Math.round(v * 100)}%`, 8, py(v) - 5);
  }
  for (const t of [1000, 2000, 5000, 10000, 20000, 50000, 100000]) {
    if (Math.log10(t) < lx0 - 1e-9 || Math.log10(t) > lx1) continue;
    line(px(t), bottom, px(t), bottom + 4, [0, 0, 0]);
    text(`${t / 1000}k`, px(t) - 8, bottom + 10);
  }
  text('queries used', (left + right) / 2 - 48, H - 20);
  if (opts.teacher) {
    line(left, py(opts.teacher), right, py(opts.teacher), [0, 0, 0], 6);
    text('teacher', left + 6, py(opts.teacher) - 13);
  }
  series.forEach((s, i) => {
    const c = classColour(i);
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    for (let k = 1; k < pts.length; k++) line(px(pts[k - 1].x), py(pts[k - 1].y), px(pts[k].x), py(pts[k].y), c, 0, 2);
    for (const p of pts) for (let a = -3; a <= 3; a++) for (let b = -3; b <= 3; b++) set(px(p.x) + a, py(p.y) + b, c);
    line(right + 10, top + 20 + i * 18, right + 30, top + 20 + i * 18, c, 0, 3);
    text(s.name, right + 36, top + 15 + i * 18, c);
  });
  return PNG.sync.write(png);
}
