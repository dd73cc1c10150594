/**
 * A minimal ustar writer (POSIX.1-1988 §10.1.1) for handing a bundle folder to a browser as one
 * .tar.gz: regular files only, one level deep, names under 100 bytes — what bundles contain.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, len, 'utf8');
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(Math.floor(mtime / 1000), 12), 136, 12);
  h.fill(' ', 148, 156); // checksum is computed with its own field as spaces
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** The files directly inside `dir`, under `prefix/`, as gzip-compressed tar bytes. */
export function tarGzFolder(dir: string, prefix: string): Buffer {
  const parts: Buffer[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    const st = statSync(file);
    if (!st.isFile()) continue;
    const entry = `${prefix}/${name}`;
    if (Buffer.byteLength(entry) > 99) throw new Error(`name too long for ustar: ${entry}`);
    parts.push(header(entry, st.size, st.mtimeMs), readFileSync(file));
    const pad = (512 - (st.size % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}
