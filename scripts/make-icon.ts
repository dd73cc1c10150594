/**
 * Draws the app icon (resources/icons/icon.png, 1024×1024): a large "teacher" disc passing to a
 * small "student" disc. electron-builder derives the .icns and .ico from this one PNG.
 * Run: node --import tsx scripts/make-icon.ts
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

const S = 1024;
const png = new PNG({ width: S, height: S });
const disc = (x: number, y: number, cx: number, cy: number, r: number) =>
  Math.max(0, Math.min(1, r - Math.hypot(x - cx, y - cy) + 0.5));
for (let y = 0; y < S; y++) {
  for (let x = 0; x < S; x++) {
    // Rounded square background (radius 180) with a vertical blue gradient.
    const dx = Math.max(0, Math.abs(x - S / 2) - (S / 2 - 180 - 40));
    const dy = Math.max(0, Math.abs(y - S / 2) - (S / 2 - 180 - 40));
    const bg = Math.max(0, Math.min(1, 180 - Math.hypot(dx, dy) + 0.5));
    const t = y / S;
    let r = 30 + 20 * t,
      g = 70 + 40 * t,
      b = 190 + 40 * t;
    const teacher = disc(x, y, 420, 430, 230);
    const student = disc(x, y, 700, 700, 120);
    const beam = x > 420 && x < 700 && Math.abs(y - 430 - (x - 420) * (270 / 280)) < 22 ? 1 : 0;
    const white = Math.max(teacher, student * 0.95, beam * 0.6);
    r = r * (1 - white) + 255 * white;
    g = g * (1 - white) + 255 * white;
    b = b * (1 - white) + 255 * white;
    const i = (y * S + x) * 4;
    png.data[i] = r;
    png.data[i + 1] = g;
    png.data[i + 2] = b;
    png.data[i + 3] = Math.round(255 * bg);
  }
}
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'resources', 'icons', 'icon.png');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, PNG.sync.write(png));
process.stdout.write(`${out}\n`);
