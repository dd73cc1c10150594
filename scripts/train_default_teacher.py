#!/usr/bin/env python3
"""Train the default "cloud teacher" shipped with Distill Workbench.

The workbench treats this model as a black box behind an ONNX file, so the only
contract that matters is the one written into the sidecar JSON: input layout,
the preprocessing the client must apply, and the output kind. Normalisation is
deliberately left OUT of the graph so that the per-teacher input spec (scale,
mean, std) is exercised by every demo run.

Run with Debian's PyTorch (the pyenv python on PATH has no torch):

    /usr/bin/python3 scripts/train_default_teacher.py

It is CPU-only and sized for a 2-core machine (a few minutes at the default
settings); the measured numbers end up in resources/teachers/fashion-mnist-cnn.json.
"""

import argparse
import datetime
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = 0.2860
STD = 0.3530
CLASS_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but payload has {data.size} bytes")
    return data.reshape(dims)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    # Same preprocessing the client performs from the JSON spec: /255, then (x-mean)/std.
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    x = (x - MEAN) / STD
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def conv_bn_relu(cin, cout):
    # bias is redundant in front of BatchNorm
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class TeacherCNN(nn.Module):
    """Small VGG-style net. Widths are kept modest because the whole thing has to
    train on two shared CPU cores; depth (4 convs) is what buys the margin over
    LeNet-class students."""

    def __init__(self, w1, w2, fc, dropout):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, w1), *conv_bn_relu(w1, w1), nn.MaxPool2d(2),
            *conv_bn_relu(w1, w2), *conv_bn_relu(w2, w2), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(w2 * 7 * 7, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(fc, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def augment(x, gen, max_shift):
    """Per-sample random horizontal flip and integer translation.

    Done on whole batches with index arithmetic rather than per-image Python
    loops, which would dominate the step time on two cores."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if max_shift <= 0:
        return x
    # Pad with the normalised value of a black pixel so shifted-in borders look like background.
    bg = (0.0 - MEAN) / STD
    p = max_shift
    padded = F.pad(x, (p, p, p, p), value=bg)
    dy = torch.randint(0, 2 * p + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * p + 1, (n,), generator=gen)
    base = torch.arange(28)
    rows = (base[None, :] + dy[:, None])[:, :, None]
    cols = (base[None, :] + dx[:, None])[:, None, :]
    batch = torch.arange(n)[:, None, None]
    return padded[batch, 0, rows, cols].unsqueeze(1)


@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        logits = model(x[i:i + batch])
        correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=os.path.join(REPO, "resources", "teachers"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--w1", type=int, default=16)
    ap.add_argument("--w2", type=int, default=32)
    ap.add_argument("--fc", type=int, default=256)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--shift", type=int, default=2, help="max random translation in pixels (0 disables)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    print(f"train {tuple(x_train.shape)}  test {tuple(x_test.shape)}", flush=True)

    model = TeacherCNN(args.w1, args.w2, args.fc, args.dropout)
    params = sum(p.numel() for p in model.parameters())
    print(f"params {params}", flush=True)

    steps_per_epoch = (x_train.shape[0] + args.batch - 1) // args.batch
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch)
    # A dedicated generator keeps the data order and augmentation independent of
    # how many random numbers weight init happened to consume.
    gen = torch.Generator().manual_seed(args.seed)

    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(x_train.shape[0], generator=gen)
        running, seen, correct = 0.0, 0, 0
        te = time.time()
        for i in range(0, x_train.shape[0], args.batch):
            idx = order[i:i + args.batch]
            xb = augment(x_train[idx], gen, args.shift)
            yb = y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item() * yb.shape[0]
            correct += (logits.argmax(1) == yb).sum().item()
            seen += yb.shape[0]
        print(f"epoch {epoch + 1}/{args.epochs}  loss {running / seen:.4f}  "
              f"train-acc {correct / seen:.4f}  {time.time() - te:.1f}s", flush=True)
    train_seconds = time.time() - t0

    # The test set is touched once, after training: no epoch selection on it.
    test_acc = evaluate(model, x_test, y_test)
    print(f"test accuracy {test_acc:.4f}  (train {train_seconds:.0f}s)", flush=True)

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "fashion-mnist-cnn.onnx")
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), onnx_path,
        opset_version=13, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL,
    )

    import onnx  # imported late so a missing onnx only fails after the (long) training
    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes, onnx checker ok)", flush=True)

    meta = {
        "schemaVersion": 1,
        "name": "fashion-mnist-cnn",
        "file": "fashion-mnist-cnn.onnx",
        "description": (
            "Default demo teacher: a small VGG-style CNN (4 conv layers with batch norm, "
            "2 dense layers) trained on the full Fashion-MNIST training set. Stands in for a "
            "cloud classification API; input normalisation is applied by the client, not the model."
        ),
        "input": {
            "name": "input",
            "shape": [-1, 1, 28, 28],
            "layout": "NCHW",
            "dtype": "float32",
            "scale": [0, 1],
            "mean": [MEAN],
            "std": [STD],
        },
        "output": {"name": "logits", "kind": "logits"},
        "classNames": CLASS_NAMES,
        "measured": {
            "testAccuracy": round(test_acc, 4),
            "testSet": "Fashion-MNIST t10k (10,000 images)",
            "params": params,
            "trainSeconds": round(train_seconds, 1),
            "trainedWith": f"PyTorch {torch.__version__} CPU ({args.threads} threads)",
            "epochs": args.epochs,
            "date": datetime.date.today().isoformat(),
        },
        "training": {
            "script": "scripts/train_default_teacher.py",
            "seed": args.seed,
            "batch": args.batch,
            "optimizer": "AdamW + OneCycle",
            "maxLr": args.lr,
            "augmentation": f"horizontal flip, random shift up to {args.shift}px",
            "widths": [args.w1, args.w1, args.w2, args.w2, args.fc],
        },
    }
    json_path = os.path.join(args.out, "fashion-mnist-cnn.json")
    with open(json_path, "w") as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")
    print(f"wrote {json_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
