#!/usr/bin/env python3
"""PyTorch training-speed reference for `npm run bench:train`.

Benchmark-only: the workbench never imports or requires PyTorch. This script answers
one question, "how fast would a mainstream framework train the same student on the
same CPU budget?", so the tfjs numbers in the bench report have a yardstick.

    python3 bench/train/torch_reference.py --arch lenet5 --batch 64 --steps 200 --threads 1 --warmup 20

Prints exactly one JSON line on stdout:
    {"arch": ..., "samplesPerSec": ..., "threads": ..., "params": ..., "torch": ...}

Architectures mirror the tfjs student zoo (28x28x1 input, 10 classes). `params` counts
what tfjs `model.countParams()` counts, i.e. batch-norm moving mean/variance included;
`trainableParams` leaves them out. Convolutions followed by batch norm carry no bias,
as in the zoo. Padding follows TensorFlow's 'same' rule (extra row/column at the
bottom/right when the total is odd) so feature-map sizes, and hence FLOPs, match.
"""

import argparse
import gzip
import json
import math
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'same' padding.

    PyTorch's padding='same' refuses stride > 1, and symmetric padding would shift
    stride-2 outputs by one pixel relative to TF; computing the pad per call keeps the
    output size ceil(in / stride) for any input size."""

    def forward(self, x):
        pads = []
        # F.pad takes the last dimension first.
        for size, k, s in ((x.shape[3], self.kernel_size[1], self.stride[1]),
                           (x.shape[2], self.kernel_size[0], self.stride[0])):
            out = math.ceil(size / s)
            total = max((out - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def lenet(c1, c2):
    return nn.Sequential(
        SameConv2d(1, c1, 5), nn.ReLU(), nn.MaxPool2d(2),       # 28 -> 14
        nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),       # 14 -> 10 -> 5
        nn.Flatten(),
        nn.Linear(c2 * 25, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = SameConv2d(cin, cout, 3, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = SameConv2d(cout, cout, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(SameConv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + skip)


def resnet8():
    return nn.Sequential(
        SameConv2d(1, 16, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        BasicBlock(16, 16, 1),
        BasicBlock(16, 32, 2),
        BasicBlock(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 10),
    )


def separable(cin, cout, stride):
    return [
        SameConv2d(cin, cin, 3, stride=stride, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(),
    ]


def mobilenet_tiny():
    layers = [SameConv2d(1, 8, 3, stride=2, bias=False), nn.BatchNorm2d(8), nn.ReLU6()]
    cin = 8
    for width, stride in ((16, 1), (32, 2), (32, 1), (64, 2)):
        layers += separable(cin, width, stride)
        cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256), nn.ReLU(),
        nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


ARCHS = {
    "lenet5": lambda: lenet(6, 16),
    "lenet5-half": lambda: lenet(3, 8),
    "resnet8": resnet8,
    "mobilenet-tiny": mobilenet_tiny,
    "mlp": mlp,
}


def count_params(model):
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # tfjs counts BN moving statistics as (non-trainable) weights; torch keeps them as buffers.
    moving = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return trainable, trainable + moving


def read_idx_images(path, limit):
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic, n, h, w = struct.unpack(">IIII", raw[:16])
    if magic != 0x00000803:
        raise ValueError(f"{path}: not an IDX image file (magic {magic:#010x})")
    n = min(n, limit)
    x = torch.frombuffer(bytearray(raw[16:16 + n * h * w]), dtype=torch.uint8)
    return x.reshape(n, 1, h, w).float() / 255.0


def make_data(args, gen):
    """Real pixels if given (content barely matters for speed, but it keeps activations
    realistic), otherwise uniform noise. Soft targets are random softmaxes either way,
    matching the shape of what distillation trains against."""
    pool = max(args.batch * 8, args.batch)
    if args.images:
        x = read_idx_images(args.images, pool)
    else:
        x = torch.rand(pool, 1, 28, 28, generator=gen)
    targets = torch.softmax(torch.randn(x.shape[0], 10, generator=gen) * 2.0, dim=1)
    return x, targets


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(ARCHS), required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200, help="timed optimiser steps")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first (allocator, oneDNN primitive caches)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", help="optional gzipped IDX image file to train on instead of noise")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already fixed once any parallel work has run; harmless here
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    model = ARCHS[args.arch]()
    model.train()
    trainable, params = count_params(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, targets = make_data(args, gen)
    batches = x.shape[0] // args.batch

    def step(i):
        j = (i % batches) * args.batch
        xb, tb = x[j:j + args.batch], targets[j:j + args.batch]
        loss = -(tb * F.log_softmax(model(xb), dim=1)).sum(dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for i in range(args.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.steps):
        loss = step(args.warmup + i)
    loss.item()  # make sure nothing is still pending before the clock stops
    elapsed = time.perf_counter() - t0

    print(json.dumps({
        "arch": args.arch,
        "samplesPerSec": round(args.batch * args.steps / elapsed, 1),
        "threads": args.threads,
        "params": params,
        "trainableParams": trainable,
        "torch": torch.__version__,
        "batch": args.batch,
        "steps": args.steps,
        "warmup": args.warmup,
        "seconds": round(elapsed, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
