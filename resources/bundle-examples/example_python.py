#!/usr/bin/env python3
"""Classify one image with the model in this folder, preprocessing it as signature.json says.

    pip install onnxruntime numpy pillow
    python3 example_python.py picture.png [model.int8.onnx]
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def tap(i, in_size, out_size):
    pos = min(max((i + 0.5) * (in_size / out_size) - 0.5, 0.0), in_size - 1)
    lo = int(np.floor(pos))
    return lo, min(lo + 1, in_size - 1), pos - lo


def resize_bilinear(img, out_h, out_w):
    """Bilinear resize sampling at pixel centres, the same taps the engine uses."""
    in_h, in_w, _ = img.shape
    if (in_h, in_w) == (out_h, out_w):
        return img
    ys = [tap(y, in_h, out_h) for y in range(out_h)]
    xs = [tap(x, in_w, out_w) for x in range(out_w)]
    out = np.empty((out_h, out_w, img.shape[2]), dtype=np.float32)
    for y, (y0, y1, fy) in enumerate(ys):
        for x, (x0, x1, fx) in enumerate(xs):
            top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * fx
            bottom = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * fx
            out[y, x] = top + (bottom - top) * fy
    return out


def main():
    if len(sys.argv) < 2:
        print("usage: python3 example_python.py <image> [model file]", file=sys.stderr)
        sys.exit(2)
    with open(os.path.join(HERE, "signature.json"), encoding="utf-8") as fh:
        sig = json.load(fh)
    model_file = sys.argv[2] if len(sys.argv) > 2 else sig["models"][0]["file"]
    inp = sig["input"]
    h, w, c = inp["height"], inp["width"], inp["channels"]

    image = Image.open(sys.argv[1])
    # A greyscale file is used as is; colour is reduced with the signature's luma weights.
    greyscale_file = image.mode in ("L", "I;16", "I", "1")
    if greyscale_file:
        grey = np.asarray(image.convert("L"), dtype=np.float32)[..., None]
        pixels = (grey if c == 1 else np.repeat(grey, 3, axis=-1)) / 255.0
    else:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
        weights = np.asarray(inp["grayscaleWeights"], dtype=np.float32)
        pixels = ((rgb @ weights)[..., None] if c == 1 else rgb) / 255.0
    pixels = resize_bilinear(pixels.astype(np.float32), h, w)

    lo, hi = inp["normalization"]["scale"]
    mean = np.asarray(inp["normalization"]["mean"], dtype=np.float32)
    std = np.asarray(inp["normalization"]["std"], dtype=np.float32)
    x = ((pixels * (hi - lo) + lo) - mean) / std
    x = x[None].astype(np.float32)
    if inp["layout"] == "NCHW":
        x = x.transpose(0, 3, 1, 2)

    session = ort.InferenceSession(os.path.join(HERE, model_file), providers=["CPUExecutionProvider"])
    logits = session.run([sig["output"]["name"]], {inp["name"]: x})[0][0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs)
    print(f"{sig['classNames'][order[0]]}\t{probs[order[0]]:.4f}")
    for i in order[1:3]:
        print(f"  then {sig['classNames'][i]}\t{probs[i]:.4f}")


if __name__ == "__main__":
    main()
