#!/usr/bin/env node
// Classifies one PNG image with the model in this folder, preprocessing it exactly as
// signature.json describes.
//
//   npm i onnxruntime-node pngjs
//   node example-node.mjs picture.png [model.int8.onnx]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import pngjs from 'pngjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sig = JSON.parse(readFileSync(path.join(here, 'signature.json'), 'utf8'));
const [imageFile, modelFile = sig.models[0].file] = process.argv.slice(2);
if (!imageFile) {
  console.error('usage: node example-node.mjs <image.png> [model file]');
  process.exit(2);
}

// pngjs hands back 8-bit RGBA; its `color` flag says whether the file had colour at all.
const png = pngjs.PNG.sync.read(readFileSync(imageFile));
const { width: w0, height: h0 } = png;
const { height, width, channels, grayscaleWeights: lw, normalization: norm } = sig.input;

// Pixels as floats in [0, 1], with the model's channel count.
let pixels = new Float32Array(w0 * h0 * channels);
for (let p = 0; p < w0 * h0; p++) {
  const [r, g, b] = [png.data[4 * p], png.data[4 * p + 1], png.data[4 * p + 2]];
  if (channels === 1) pixels[p] = (png.color ? lw[0] * r + lw[1] * g + lw[2] * b : r) / 255;
  else for (let c = 0; c < 3; c++) pixels[3 * p + c] = (png.color ? [r, g, b][c] : r) / 255;
}

// Bilinear resize sampling at pixel centres, when the image is not already the model's size.
function tap(i, inSize, outSize) {
  const pos = Math.min(Math.max((i + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
  const lo = Math.floor(pos);
  return [lo, Math.min(lo + 1, inSize - 1), pos - lo];
}
if (w0 !== width || h0 !== height) {
  const out = new Float32Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = tap(y, h0, height);
    for (let x = 0; x < width; x++) {
      const [x0, x1, fx] = tap(x, w0, width);
      for (let c = 0; c < channels; c++) {
        const at = (yy, xx) => pixels[(yy * w0 + xx) * channels + c];
        const top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx;
        const bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx;
        out[(y * width + x) * channels + c] = top + (bottom - top) * fy;
      }
    }
  }
  pixels = out;
}

// Normalise, then lay out as the model wants.
const [lo, hi] = norm.scale;
const input = new Float32Array(height * width * channels);
for (let p = 0; p < height * width; p++) {
  for (let c = 0; c < channels; c++) {
    const v = (pixels[p * channels + c] * (hi - lo) + lo - norm.mean[c]) / norm.std[c];
    input[sig.input.layout === 'NCHW' ? c * height * width + p : p * channels + c] = v;
  }
}
const dims = sig.input.layout === 'NCHW' ? [1, channels, height, width] : [1, height, width, channels];

const session = await ort.InferenceSession.create(path.resolve(here, modelFile));
const result = await session.run({ [sig.input.name]: new ort.Tensor('float32', input, dims) });
const logits = Array.from(result[sig.output.name].data);

// Softmax, shifted by the max for numerical safety.
const top = Math.max(...logits);
const exps = logits.map((v) => Math.exp(v - top));
const sum = exps.reduce((a, b) => a + b, 0);
const ranked = exps.map((e, i) => ({ name: sig.classNames[i], p: e / sum })).sort((a, b) => b.p - a.p);
console.log(`${ranked[0].name}\t${ranked[0].p.toFixed(4)}`);
for (const r of ranked.slice(1, 3)) console.log(`  then ${r.name}\t${r.p.toFixed(4)}`);
