#!/usr/bin/env bash
# Accuracy of training across K ranks against one process, same epochs and schedule, on Fashion-MNIST
# with `small`: one process, then K-rank hybrid runs with each codec, one after the other. The K ranks run
# as threads (`train --simulate K`), which gives bit-identical results to `mpirun -n K` (tested).
#
#   Scripts/compare-accuracy.sh [--epochs N] [--milestones A,B] [--ranks K] [--batch-size B] [--lr LR]
#                               [--codecs "none bf16 topk"] [--out DIR] [-- extra train flags for every run]
#
# --batch-size and --lr are per rank (default 128/K and 0.01/K: the one-process batch of 128 and rate 0.01
# shared by K ranks, so both see the same global batch and the same number of updates). Writes metrics,
# models and logs to DIR (default runs/compare-accuracy) and prints a table of test accuracies and gaps.
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=10 milestones=7,9 ranks=4 batch="" lr="" codecs="none bf16 topk" out=runs/compare-accuracy
while [ $# -gt 0 ]; do
    case "$1" in
        --epochs) epochs=$2; shift 2 ;;
        --milestones) milestones=$2; shift 2 ;;
        --ranks) ranks=$2; shift 2 ;;
        --batch-size) batch=$2; shift 2 ;;
        --lr) lr=$2; shift 2 ;;
        --codecs) codecs=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "compare-accuracy: unknown argument $1" >&2; exit 2 ;;
    esac
done
batch=${batch:-$((128 / ranks))}
lr=${lr:-$(awk -v k="$ranks" 'BEGIN { printf "%g", 0.01 / k }')}

tool=.build/release/alexnet-dist
[ -x "$tool" ] || { echo "compare-accuracy: $tool is missing; run Scripts/setup.sh first" >&2; exit 1; }
mkdir -p "$out"
common=(--epochs "$epochs" --milestones "$milestones" --log-every 100 --checkpoint-every 0)

# run NAME FLAGS...: trains, keeps the log, prints the final test accuracy line.
run() {
    local name=$1; shift
    echo "== $name: train $*" >&2
    "$tool" train "${common[@]}" "$@" --metrics "$out/$name.jsonl" --output "$out/$name.safetensors" \
        2> "$out/$name.log" | tee "$out/$name.txt" >&2
}

run single "$@"
for codec in $codecs; do
    run "hybrid-$ranks-${codec//[:+]/_}" --simulate "$ranks" --batch-size "$batch" --lr "$lr" --codec "$codec" "$@"
done

# The final test accuracy of each run, from its summary line ("… test top-1 accuracy 92.54% …").
accuracy() { sed -n 's/.*test top-1 accuracy \([0-9.]*\)%.*/\1/p' "$out/$1.txt"; }
base=$(accuracy single)
printf '%-28s %10s %10s\n' run accuracy "vs single"
printf '%-28s %9s%% %10s\n' "single (batch 128)" "$base" ""
for codec in $codecs; do
    a=$(accuracy "hybrid-$ranks-${codec//[:+]/_}")
    printf '%-28s %9s%% %+9.2f\n' "$ranks ranks, batch $batch, $codec" "$a" "$(awk -v a="$a" -v b="$base" 'BEGIN { print a - b }')"
done
