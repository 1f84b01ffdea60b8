#!/usr/bin/env python3
"""PyTorch side of the side-by-side compute benchmark.

Measures training-step throughput (forward + cross-entropy + backward + SGD
step) of the same AlexNet variants that alexnet-dist implements with oneDNN,
on synthetic data, so the two can be compared on the same machine.

Set up the interpreter with Scripts/pytorch-venv.sh, then e.g.:

    PY=$(Scripts/pytorch-venv.sh | tail -n1)
    "$PY" Scripts/bench_pytorch.py --variant paper --batch 128 --json runs/pytorch-paper.json
    "$PY" Scripts/bench_pytorch.py --all --json runs/pytorch-all.json

The timed step is exactly:

    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()

with torch.optim.SGD(lr=0.01, momentum=0.9, weight_decay=5e-4), the model in
train mode, and one fixed synthetic batch (torch.randn inputs, random labels).
Each step is timed with time.perf_counter; the warm-up steps are not timed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def lrn() -> nn.Module:
    # Same as our LRNParameters.alexNet: size 5, alpha 1e-4, beta 0.75, k 2.
    # PyTorch, like oneDNN and Caffe, divides alpha by size.
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)


def pool() -> nn.Module:
    return nn.MaxPool2d(kernel_size=3, stride=2)


def classifier(in_features: int, hidden: int, classes: int) -> list[nn.Module]:
    return [
        nn.Flatten(),
        nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(hidden, classes),
    ]


def paper(groups: int) -> nn.Sequential:
    """Krizhevsky et al. 2012, 3x227x227. groups=2 splits conv2/4/5 like the two-GPU original."""
    g = groups
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4, padding=0), nn.ReLU(inplace=True), lrn(), pool(),
        nn.Conv2d(96, 256, 5, padding=2, groups=g), nn.ReLU(inplace=True), lrn(), pool(),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=g), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=g), nn.ReLU(inplace=True), pool(),
        *classifier(256 * 6 * 6, 4096, 1000),
    )


def owt() -> nn.Sequential:
    """'One weird trick' AlexNet (Krizhevsky 2014), 3x224x224, with LRN."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), lrn(), pool(),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), lrn(), pool(),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), pool(),
        *classifier(256 * 6 * 6, 4096, 1000),
    )


def small() -> nn.Sequential:
    """Scaled-down AlexNet for 1x28x28, 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, 64, 5, padding=2), nn.ReLU(inplace=True), lrn(), pool(),    # 28 -> 13
        nn.Conv2d(64, 128, 5, padding=2), nn.ReLU(inplace=True), lrn(), pool(),  # 13 -> 6
        nn.Conv2d(128, 192, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(192, 192, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(192, 128, 3, padding=1), nn.ReLU(inplace=True), pool(),        # 6 -> 2
        *classifier(128 * 2 * 2, 1024, 10),
    )


def torchvision_alexnet() -> nn.Sequential:
    """torchvision.models.alexnet written out by hand (features, avgpool, classifier), 3x224x224."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), pool(),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), pool(),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), pool(),
        nn.AdaptiveAvgPool2d((6, 6)),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, 1000),
    )


# name -> (builder, input (C, H, W), classes, expected parameter count)
VARIANTS = {
    "paper": (lambda: paper(1), (3, 227, 227), 1000, 62_378_344),
    "paper-groups2": (lambda: paper(2), (3, 227, 227), 1000, 60_965_224),
    "owt": (owt, (3, 224, 224), 1000, 61_100_840),
    "small": (small, (1, 28, 28), 10, 2_566_410),
    "torchvision": (torchvision_alexnet, (3, 224, 224), 1000, 61_100_840),
}

# What --all runs, in order: (variant, batch).
ALL_RUNS = [("paper", 128), ("paper", 32), ("small", 128), ("torchvision", 128)]


def build(variant: str) -> tuple[nn.Module, tuple[int, int, int], int, int]:
    builder, shape, classes, expected = VARIANTS[variant]
    model = builder()
    params = sum(p.numel() for p in model.parameters())
    if params != expected:
        raise SystemExit(
            f"bench_pytorch: variant {variant!r} has {params:,} parameters, expected {expected:,}: "
            f"the PyTorch architecture does not match ours"
        )
    return model, shape, classes, params


def bench(variant: str, batch: int, warmup: int, steps: int, threads: int, seed: int) -> tuple[dict, float]:
    torch.manual_seed(seed)
    model, (c, h, w), classes, params = build(variant)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, c, h, w)
    y = torch.randint(0, classes, (batch,))

    def step() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()

    times = []
    loss = None
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)

    median = statistics.median(times)
    result = {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "variant": variant,
        "batch": batch,
        "threads": threads,
        "warmup": warmup,
        "steps": steps,
        "step_seconds": times,
        "median_step_seconds": median,
        "images_per_second": batch / median,
        "parameters": params,
    }
    final_loss = float(loss.detach()) if loss is not None else float("nan")
    del model, opt, x, y, loss
    gc.collect()
    return result, final_loss


def human_line(r: dict, final_loss: float) -> str:
    return (
        f"pytorch {r['torch_version']} {r['variant']} batch={r['batch']} threads={r['threads']} "
        f"warmup={r['warmup']} steps={r['steps']}: median {r['median_step_seconds']:.4f} s/step, "
        f"{r['images_per_second']:.1f} images/s, {r['parameters']:,} parameters, "
        f"last loss {final_loss:.4f}"
    )


def write_json_atomic(path: str, obj) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bench_pytorch.", suffix=".json.part", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def non_negative(text: str) -> int:
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="PyTorch training-step throughput for the AlexNet variants.")
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="paper")
    ap.add_argument("--batch", type=positive, default=128)
    ap.add_argument("--warmup", type=non_negative, default=2, help="untimed steps first (default 2)")
    ap.add_argument("--steps", type=positive, default=5, help="timed steps (default 5)")
    ap.add_argument("--threads", type=positive, default=2,
                    help="torch.set_num_threads (default 2); interop threads are always 1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH", help="write the result JSON here (atomically)")
    ap.add_argument("--all", action="store_true",
                    help="run " + ", ".join(f"{v}@{b}" for v, b in ALL_RUNS)
                    + " in sequence (ignores --variant/--batch); --json writes a list")
    args = ap.parse_args(argv)

    # Before any parallel work: set_num_interop_threads may only be called once, early.
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    if not args.all:
        result, final_loss = bench(args.variant, args.batch, args.warmup, args.steps, args.threads, args.seed)
        print(human_line(result, final_loss), flush=True)
        if args.json:
            write_json_atomic(args.json, result)
        return 0

    results = []
    for variant, batch in ALL_RUNS:
        result, final_loss = bench(variant, batch, args.warmup, args.steps, args.threads, args.seed)
        print(human_line(result, final_loss), flush=True)
        results.append(result)

    print()
    header = f"{'variant':<14} {'batch':>5} {'median s/step':>14} {'images/s':>10} {'parameters':>12}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['variant']:<14} {r['batch']:>5} {r['median_step_seconds']:>14.4f} "
              f"{r['images_per_second']:>10.1f} {r['parameters']:>12,}")
    print(f"(pytorch {torch.__version__}, threads={args.threads}, interop=1, "
          f"warmup={args.warmup}, steps={args.steps})", flush=True)
    if args.json:
        write_json_atomic(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
