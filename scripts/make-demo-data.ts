/**
 * Builds the small Fashion-MNIST subset that ships in resources/demo-data/fashion-mnist/.
 *
 *   node --import tsx scripts/make-demo-data.ts [--src DIR] [--out DIR] [--seed N] [--per-class N]
 *
 * The demo has to run offline and fast, so it ships 2,000 training and 2,000 test images
 * instead of the full 70,000. Both splits are class-balanced (200 per class) so that
 * per-class metrics in the demo are not skewed by whichever classes a plain prefix happens
 * to over-represent. Selection is a seeded draw, so re-running the script reproduces the
 * files byte for byte; the chosen source indices are recorded in manifest.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src-main/util/rng.ts';

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;
const NUM_CLASSES = 10;
const CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Args {
  src: string;
  out: string;
  seed: number;
  perClass: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    src: '/usr/share/datasets/fashion-mnist',
    out: path.join(repoRoot, 'resources', 'demo-data', 'fashion-mnist'),
    seed: 2026,
    perClass: 200,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--src') args.src = value;
    else if (flag === '--out') args.out = value;
    else if (flag === '--seed') args.seed = Number(value);
    else if (flag === '--per-class') args.perClass = Number(value);
    else throw new Error(`unknown flag ${flag}`);
    i++;
  }
  return args;
}

interface Idx {
  dims: number[];
  data: Uint8Array;
}

function readIdx(file: string, expectedMagic: number): Idx {
  let bytes = fs.readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = zlib.gunzipSync(bytes);
  const magic = bytes.readUInt32BE(0);
  if (magic !== expectedMagic) {
    throw new Error(
      `${file}: magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${expectedMagic.toString(16).padStart(8, '0')}`,
    );
  }
  const ndims = magic & 0xff;
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(bytes.readUInt32BE(4 + 4 * d));
  const headerLen = 4 + 4 * ndims;
  const expected = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - headerLen !== expected) {
    throw new Error(
      `${file}: header declares ${dims.join('x')} = ${expected} bytes, payload has ${bytes.length - headerLen}`,
    );
  }
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerLen, expected) };
}

function encodeIdx(magic: number, dims: number[], payload: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  // Level 9 because these files are committed; Node writes a zero mtime, so output is reproducible.
  return zlib.gzipSync(Buffer.concat([header, payload]), { level: 9 });
}

/**
 * Draws `perClass` indices of every class with a seeded shuffle, then returns them in
 * ascending source order: that keeps classes interleaved (the source order is already
 * mixed) and makes the manifest easy to diff against the original files.
 */
function balancedSubset(labels: Uint8Array, perClass: number, rng: Rng): number[] {
  const byClass: number[][] = Array.from({ length: NUM_CLASSES }, () => []);
  labels.forEach((label, i) => byClass[label].push(i));
  const picked: number[] = [];
  for (let c = 0; c < NUM_CLASSES; c++) {
    if (byClass[c].length < perClass) throw new Error(`class ${c} has only ${byClass[c].length} images`);
    picked.push(...rng.shuffle(byClass[c].slice()).slice(0, perClass));
  }
  return picked.sort((a, b) => a - b);
}

interface SplitResult {
  count: number;
  perClass: number[];
  sourceIndices: number[];
  files: { images: string; labels: string };
}

function makeSplit(args: Args, prefix: 'train' | 't10k', rng: Rng): SplitResult {
  const imagesName = `${prefix}-images-idx3-ubyte.gz`;
  const labelsName = `${prefix}-labels-idx1-ubyte.gz`;
  const images = readIdx(path.join(args.src, imagesName), IMAGES_MAGIC);
  const labels = readIdx(path.join(args.src, labelsName), LABELS_MAGIC);
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) throw new Error(`${prefix}: ${n} images but ${labels.dims[0]} labels`);

  const indices = balancedSubset(labels.data, args.perClass, rng);
  const pixels = h * w;
  const outImages = new Uint8Array(indices.length * pixels);
  const outLabels = new Uint8Array(indices.length);
  const perClass = new Array<number>(NUM_CLASSES).fill(0);
  indices.forEach((src, dst) => {
    outImages.set(images.data.subarray(src * pixels, (src + 1) * pixels), dst * pixels);
    outLabels[dst] = labels.data[src];
    perClass[labels.data[src]]++;
  });

  fs.writeFileSync(path.join(args.out, imagesName), encodeIdx(IMAGES_MAGIC, [indices.length, h, w], outImages));
  fs.writeFileSync(path.join(args.out, labelsName), encodeIdx(LABELS_MAGIC, [indices.length], outLabels));
  return { count: indices.length, perClass, sourceIndices: indices, files: { images: imagesName, labels: labelsName } };
}

function readme(args: Args, train: SplitResult, test: SplitResult): string {
  return `# Fashion-MNIST demo subset

A small, class-balanced subset of [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist)
(Xiao, Rasul & Vollgraf, Zalando Research, 2017), redistributed under the MIT licence of the
original dataset (Copyright (c) 2017 Zalando SE).

| split | file prefix | images | per class | drawn from |
|-------|-------------|--------|-----------|------------|
| train | \`train-*\` | ${train.count} | ${args.perClass} | the 60,000-image training set |
| test  | \`t10k-*\`  | ${test.count} | ${args.perClass} | the 10,000-image test set |

The files use the original IDX format and names (gzipped), so any Fashion-MNIST loader reads
them. Images are 28×28 uint8 greyscale; labels are 0–9:
${CLASS_NAMES.map((name, i) => `${i} ${name}`).join(', ')}.

## How the subset was chosen

\`scripts/make-demo-data.ts\` shuffles the indices of each class with a seeded mulberry32 PRNG
(seed ${args.seed}; the training split is drawn first, then the test split, from the same
generator), keeps the first ${args.perClass} of each class and writes the images in ascending
order of their original index. \`manifest.json\` lists those original indices, so every image
here can be traced back to the full dataset. Re-running

    node --import tsx scripts/make-demo-data.ts

against the official files reproduces these files exactly.

The test subset is disjoint from the training subset by construction (different source files),
and the default teacher was trained on the full training set, never on the test set.
`;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.out, { recursive: true });
  const rng = new Rng(args.seed);
  const train = makeSplit(args, 'train', rng);
  const test = makeSplit(args, 't10k', rng);

  const manifest = {
    schemaVersion: 1,
    dataset: 'Fashion-MNIST',
    source: 'https://github.com/zalandoresearch/fashion-mnist',
    license: 'MIT',
    generator: 'scripts/make-demo-data.ts',
    seed: args.seed,
    selection: `class-balanced: ${args.perClass} per class drawn with a seeded shuffle, kept in ascending source order`,
    classNames: CLASS_NAMES,
    splits: {
      train: { ...train.files, count: train.count, perClass: train.perClass, sourceIndices: train.sourceIndices },
      test: { ...test.files, count: test.count, perClass: test.perClass, sourceIndices: test.sourceIndices },
    },
  };
  // Indented for review, but numeric arrays stay on one line: 4,000 indices one per line would bury the rest.
  const text = JSON.stringify(manifest, null, 2).replace(
    /\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]/g,
    (_m, body: string) => `[${body.split(/,\s*/).join(', ')}]`,
  );
  fs.writeFileSync(path.join(args.out, 'manifest.json'), text + '\n');
  fs.writeFileSync(path.join(args.out, 'README.md'), readme(args, train, test));
  console.log(`wrote ${train.count} train + ${test.count} test images to ${args.out}`);
}

main();
