import type { DecodedImage } from './decode-image.ts';

// ITU-R BT.601 weights: what PIL's convert('L') and most MNIST-style greyscale conversions use.
const LUMA = [0.299, 0.587, 0.114];

/** An 8-bit decoded image as floats in [0, 1] with the requested channel count. */
export function toFloatChannels(img: DecodedImage, channels: 1 | 3): Float32Array {
  const pixels = img.width * img.height;
  const out = new Float32Array(pixels * channels);
  const src = img.data;
  if (img.channels === channels) {
    for (let i = 0; i < src.length; i++) out[i] = src[i] / 255;
  } else if (channels === 3) {
    for (let p = 0; p < pixels; p++) {
      const v = src[p] / 255;
      out[3 * p] = v;
      out[3 * p + 1] = v;
      out[3 * p + 2] = v;
    }
  } else {
    for (let p = 0; p < pixels; p++) {
      out[p] = (LUMA[0] * src[3 * p] + LUMA[1] * src[3 * p + 1] + LUMA[2] * src[3 * p + 2]) / 255;
    }
  }
  return out;
}
