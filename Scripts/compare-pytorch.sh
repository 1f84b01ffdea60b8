#!/usr/bin/env bash
# Side-by-side training-step throughput: alexnet-dist vs PyTorch (CPU build), same architecture,
# batch, threads and SGD step, run one after the other per configuration in one invocation, so the
# ratios compare like with like on this machine.
#
#   Scripts/compare-pytorch.sh [--threads N] [--steps N] [--out DIR]
#
# Needs the release build (Scripts/setup.sh) and a PyTorch venv (Scripts/pytorch-venv.sh, called here).
# Writes one JSON file per run into DIR (default runs/compare-pytorch) and prints a table of ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2 steps=5 out=runs/compare-pytorch
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "compare-pytorch: unknown argument $1" >&2; exit 2 ;;
    esac
done

python=$(Scripts/pytorch-venv.sh | tail -n 1)
tool=.build/release/alexnet-dist
[ -x "$tool" ] || { echo "compare-pytorch: $tool is missing; run Scripts/setup.sh first" >&2; exit 1; }
mkdir -p "$out"

# variant batch required-ratio (from the project's targets; "-" = reported only)
configs=("paper 128 1.5" "paper 32 1.3" "small 128 1.3" "owt 128 -")
for config in "${configs[@]}"; do
    read -r variant batch _ <<< "$config"
    warmup=2
    echo "== $variant batch $batch" >&2
    "$tool" bench compute --variant "$variant" --batch-size "$batch" --warmup $warmup --steps "$steps" \
        --threads "$threads" --json "$out/alexnet-dist-$variant-$batch.json" | head -n 1 >&2
    "$python" Scripts/bench_pytorch.py --variant "$variant" --batch "$batch" --warmup $warmup --steps "$steps" \
        --threads "$threads" --json "$out/pytorch-$variant-$batch.json" >&2
done

"$python" - "$out" "${configs[@]}" <<'PY'
import json, sys
out, configs = sys.argv[1], sys.argv[2:]
print(f"{'variant':8} {'batch':>5} {'alexnet-dist img/s':>19} {'PyTorch img/s':>14} {'ratio':>7} {'required':>9}  met")
for config in configs:
    variant, batch, required = config.split()
    ours = json.load(open(f"{out}/alexnet-dist-{variant}-{batch}.json"))
    theirs = json.load(open(f"{out}/pytorch-{variant}-{batch}.json"))
    ratio = ours["images_per_second"] / theirs["images_per_second"]
    met = "-" if required == "-" else ("yes" if ratio >= float(required) else "NO")
    req = "-" if required == "-" else f"≥{required}×"
    print(f"{variant:8} {batch:>5} {ours['images_per_second']:19.1f} {theirs['images_per_second']:14.1f} {ratio:6.2f}× {req:>9}  {met}")
PY
