#!/usr/bin/env bash
# scripts/bench-loader.sh — does the JPEG loader keep up? AlexNet training images/s on a
# synthetic ImageNet tree of real JPEGs (decoded, resized and cropped by the prefetching
# loader, `loader_threads` decode threads) against `dctrain bench` on in-memory random
# inputs (the same net, batch and threads), in interleaved rounds; prints a table with
# the ratio, the decode rate per loader thread and the time steps waited for data.
# A benchmark, not a test. Runs under the shared CPU lock (/tmp/dctrain-cpu.lock).
#
# usage: scripts/bench-loader.sh [--rounds R] [--iters N] [--batch B] [--threads T]
#                                [--loader-threads L] [--tree DIR] [--net NAME]
#   defaults: 3 rounds, 12 iterations (the last 8 timed), batch 16, 2 threads,
#   2 loader threads, tree data/synthetic-imagenet (made by scripts/synthetic-imagenet.sh
#   with 20 classes x 20 images when missing), net alexnet (experiments/NAME.cfg).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rounds=3 iters=12 batch=16 threads=2 lthreads=2 tree=data/synthetic-imagenet net=alexnet
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --loader-threads) lthreads=$2; shift 2 ;;
    --tree) tree=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    *) sed -n '/^# usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[ $(( iters % 3 )) -eq 0 ] || { echo "bench-loader.sh: --iters must be a multiple of 3" >&2; exit 2; }
bin=${DCTRAIN:-build/dctrain}
[ -x "$bin" ] || { echo "bench-loader.sh: $bin missing: build first (scripts/setup.sh)" >&2; exit 1; }
[ -d "$tree" ] || scripts/synthetic-imagenet.sh "$tree" --classes 20 --per-class 20 >&2

# Hold the shared CPU lock for the whole run so no other benchmark spoils it.
if [ -z "${DC_BENCH_LOCKED:-}" ]; then
  DC_BENCH_LOCKED=1 exec flock /tmp/dctrain-cpu.lock "$0" --rounds "$rounds" --iters "$iters" --batch "$batch" \
    --threads "$threads" --loader-threads "$lthreads" --tree "$tree" --net "$net"
fi

out=$(mktemp -d /tmp/bench-loader.XXXXXX)
trap 'rm -rf "$out"' EXIT
disp=$(( iters / 3 ))

# Training images/s, decode images/s per loader thread and seconds waited over the last
# two display lines (the first holds the warm-up) of a run of experiment $1.
train_run() {
  rm -rf "$out/run"
  "$bin" "$1" --threads "$threads" --output "$out/run" --stop-after "$iters" \
    --set data.dir="$tree" --set data.loader_threads="$lthreads" --set solver.batch="$batch" \
    --set solver.max_iter="$iters" --set solver.display="$disp" --set solver.test_interval=0 \
    --set solver.snapshot=0 --set solver.test_iters=1 --set solver.test_batch=8 > "$out/train.txt"
  grep -E '^\[train\] iter +[0-9]+/' "$out/train.txt" | tail -2 |
    sed -E 's/.* ([0-9.]+) img\/s +decode ([0-9.]+) img\/s\/thread +waited ([0-9.]+)s.*/\1 \2 \3/' |
    awk '{j += $1; d += $2; w += $3} END {printf "%.1f %.0f %.2f\n", j / NR, d / NR, w}'
}

# The loader alone: a net too small to matter on the same crops, so the run is
# decode-bound and its images/s is what the loader threads deliver.
crop=$(sed -n 's/^crop *= *\([0-9]*\).*/\1/p' "experiments/$net.cfg")
classes=$(find "$tree/train" -mindepth 1 -maxdepth 1 -type d | wc -l)
cat > "$out/tiny.net" <<NET
[input]
channels = 3
height = $crop
width = $crop
[conv]
name = conv1
num_output = 2
kernel = 8
stride = 32
[fc]
name = fc1
num_output = $classes
[softmax_loss]
NET
cat > "$out/decode.cfg" <<CFG
[experiment]
net = $out/tiny.net
[data]
kind = imagenet
crop = $crop
[solver]
base_lr = 0.001
CFG

printf '%s, batch %d, %d threads, loader_threads %d, %s (%s)\n' "$net" "$batch" "$threads" "$lthreads" "$tree" "$(date +%F)"
printf '%-6s %12s %12s %7s %16s %9s %16s\n' round "in-memory/s" "JPEG/s" ratio "decode/s/thread" "waited s" "loader alone/s"
results=()
for r in $(seq 1 "$rounds"); do
  mem=$("$bin" bench "nets/$net.net" --batch "$batch" --threads "$threads" --seconds 4 | sed -n 's/.* train \([0-9.]*\) images\/s.*/\1/p')
  read -r jpeg dec wait < <(train_run "experiments/$net.cfg")
  read -r alone _ _ < <(train_run "$out/decode.cfg")
  ratio=$(awk -v a="$jpeg" -v b="$mem" 'BEGIN {printf "%.3f", a / b}')
  printf '%-6s %12s %12s %7s %16s %9s %16s\n' "$r" "$mem" "$jpeg" "$ratio" "$dec" "$wait" "$alone"
  results+=("$ratio $mem $jpeg $dec $wait $alone")
done
# medians of each column, and the ratio of the best (least disturbed) rounds
printf '%s\n' "${results[@]}" | awk -v n="$rounds" -v lt="$lthreads" '
  { for (c = 1; c <= 6; c++) v[c, NR] = $c; if ($2 > bm) bm = $2; if ($3 > bj) bj = $3 }
  END {
    for (c = 1; c <= 6; c++) {
      for (i = 1; i <= n; i++) a[i] = v[c, i]
      for (i = 1; i <= n; i++) for (k = i + 1; k <= n; k++) if (a[k] < a[i]) { t = a[i]; a[i] = a[k]; a[k] = t }
      m[c] = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    printf "median  %12s %12s %7.3f %16s %9s %16s\n", m[2], m[3], m[1], m[4], m[5], m[6]
    printf "best-of ratio %.3f (JPEG %s vs in-memory %s images/s); loader alone %s images/s = %.0f per thread\n",
      bj / bm, bj, bm, m[6], m[6] / lt
  }'
