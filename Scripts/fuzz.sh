#!/usr/bin/env bash
# Fuzzes one parser with libFuzzer, or each in turn:
#
#   Scripts/fuzz.sh TARGET SECONDS [libFuzzer options…]     TARGET: safetensors idx frame shards image cli
#   Scripts/fuzz.sh all SECONDS [libFuzzer options…]
#
# Builds the fuzz targets once (ALEXNET_FUZZ=1, -sanitize=fuzzer,address, in .build-fuzz, apart from the
# normal build), then runs TARGET for SECONDS from its committed seeds (Scripts/fuzz-corpus/TARGET) and the
# inputs earlier runs found (.build-fuzz/corpus/TARGET). Exits non-zero on a crash, a timeout (an input
# taking over 10 s) or an input needing over 2 GiB; the input is kept as .build-fuzz/findings/TARGET-*
# and replays with `.build-fuzz/debug/alexnet-dist-fuzz TARGET FILE`. The last line per target gives
# the executions, executions per second and coverage (edges) libFuzzer reported.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(safetensors idx frame shards image cli)
[[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
target=$1 seconds=$2
shift 2
if [[ $target == all ]]; then
    chosen=("${targets[@]}")
else
    [[ " ${targets[*]} " == *" $target "* ]] || { echo "fuzz.sh: unknown target '$target' (${targets[*]})" >&2; exit 2; }
    chosen=("$target")
fi

ALEXNET_FUZZ=1 swift build --scratch-path .build-fuzz --product alexnet-dist-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld 2>&1 | grep -E "error|warning: |Compiling|Build" | grep -v "^\[" || true
binary=.build-fuzz/debug/alexnet-dist-fuzz
[[ -x $binary ]] || { echo "fuzz.sh: the build failed" >&2; exit 1; }

status=0
for name in "${chosen[@]}"; do
    mkdir -p ".build-fuzz/corpus/$name" .build-fuzz/findings
    log=".build-fuzz/fuzz-$name.log"
    set +e
    TIMEFORMAT='%U %S'
    { time ASAN_OPTIONS=detect_leaks=0 "$binary" "$name" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix=".build-fuzz/findings/$name-" \
        "$@" ".build-fuzz/corpus/$name" "Scripts/fuzz-corpus/$name" >"$log" 2>&1; } 2>"$log.time"
    code=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    cpu=$(awk '{ printf "%.1f", ($1 + $2) / 60 }' "$log.time" 2>/dev/null || echo "?")
    if [[ $code -eq 0 ]]; then
        echo "fuzz $name: ${seconds} s ($cpu CPU-minutes), $runs executions, $speed/s, $edges edges, no crash, timeout or OOM"
    else
        status=1
        echo "fuzz $name: FAILED (exit $code) after $runs executions; see $log and .build-fuzz/findings/:"
        grep -E "ERROR|Fatal error|==[0-9]+==|SUMMARY|Test unit written" "$log" | head -8 | sed 's/^/  /'
    fi
done
exit $status
