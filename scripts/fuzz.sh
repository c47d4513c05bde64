#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...] — build the fuzz targets (tests/fuzz/fuzz_*.c)
# with clang-14 and -fsanitize=fuzzer,address,undefined in build-fuzz/, then run each
# target (all, or the ones named) for SECONDS (default 60) on its seed corpus
# (tests/fuzz/corpus/NAME) and regression inputs (tests/fuzz/regress/NAME), with the
# leak check on, and print one table row per target:
#   target, executions, exec/s, seconds, corpus size (inputs/bytes), result.
# Exits non-zero when any target found something: the input is kept as
# build-fuzz/findings/NAME-crash-* (or leak-, timeout-, oom-) and its log beside it.
# New interesting inputs go to build-fuzz/corpus/NAME (not into the repository).
# Environment: DC_FUZZ_BUILD (build directory, default build-fuzz; scripts/test.sh
# passes its sanitizer build), DC_FUZZ_RUNS (stop each target after this many
# executions, or at SECONDS, whichever comes first).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
secs=${1:-60}
shift || true
build=${DC_FUZZ_BUILD:-build-fuzz}
case "$secs" in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$secs'" >&2; exit 2 ;; esac

echo "fuzz: building the targets in $build/ (clang-14, libFuzzer + ASan + UBSan)"
CC=clang-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DDC_FUZZ=ON -DDC_MPI=OFF >/dev/null
if ! cmake --build "$build" -j"$(nproc)" --target fuzz_targets > "$build/build.log" 2>&1; then
  grep -vE '^\[ *[0-9]+%\]' "$build/build.log" >&2
  echo "fuzz: build failed (full log: $build/build.log)" >&2
  exit 1
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz_*; do
    n=$(basename "$f")
    [ -x "$f" ] && [ -f "tests/fuzz/$n.c" ] && targets+=("$n")
  done
fi

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp # leaks inside libhdf5 only (see the file)
export OMP_NUM_THREADS=1
mkdir -p "$build/findings"
printf '%-14s %12s %9s %8s %10s  %s\n' target executions exec/s seconds corpus result
fail=0
for t in "${targets[@]}"; do
  [ -x "$build/$t" ] || { echo "fuzz.sh: no target $t in $build/" >&2; exit 2; }
  work="$build/corpus/$t"
  mkdir -p "$work"
  dirs=("$work" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regress/$t" ] && dirs+=("tests/fuzz/regress/$t")
  runs=()
  [ -n "${DC_FUZZ_RUNS:-}" ] && runs=(-runs="$DC_FUZZ_RUNS")
  log="$build/findings/$t.log"
  start=$(date +%s.%N)
  set +e
  # libhdf5 1.10 allocates what a corrupt file's heap header says (malloc of 1.8 GB seen
  # in H5HL_protect, outside dctrain's code, and given back when the read fails): for
  # fuzz_h5 only the resident size counts, not one allocation's size
  mlimit=1024
  [ "$t" = fuzz_h5 ] && mlimit=8192
  "$build/$t" -max_total_time="$secs" "${runs[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb="$mlimit" \
    -print_final_stats=1 -artifact_prefix="$build/findings/$t-" "${dirs[@]}" > "$log" 2>&1
  rc=$?
  set -e
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1 | sed 's/corp: //')
  if [ $rc -eq 0 ]; then
    result=ok
  else
    fail=1
    art=$(grep -o "Test unit written to [^ ]*" "$log" | tail -n 1 | sed 's/Test unit written to //')
    why=$(grep -m1 -oE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer)[^(]*|runtime error:.*|fuzz: .*" "$log" || true)
    result="FINDING: ${why:-exit $rc} -> ${art:-see $log}"
  fi
  printf '%-14s %12s %9s %8.0f %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$took" "${corpus:-?}" "$result"
done
exit $fail
