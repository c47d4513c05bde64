#!/usr/bin/env bash
# scripts/bench-dist.sh — a benchmark, not a test: data-parallel training on this machine.
# For each net, 1 process x 2 threads against 2 MPI ranks x 1 thread at the same global
# batch (mpirun -np 2, the gradient sums overlapped with backward as training does, and
# without the overlap), on random inputs (dctrain bench). Interleaved ROUNDS times (the
# machine is shared and noisy); the table shows medians: training images/s, the 2-rank
# rate as a share of the 1-process one (target: at least 90%), the share of a step spent
# waiting for the gradient allreduce, and the MB summed per step.
#   scripts/bench-dist.sh [--rounds N] [--seconds S] [--nets "lenet5:64 alexnet:32"]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rounds=3 seconds=3 nets="lenet5:64 alexnet:32"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --nets) nets=$2; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench-dist.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
bash scripts/setup.sh >/dev/null
command -v mpirun >/dev/null || { echo "bench-dist.sh: no mpirun (apt-get install openmpi-bin)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp)
trap 'rm -f "$out" "$out.d"' EXIT
run() { # tag, command...
  local tag=$1; shift
  "$@" > "$out.d" 2>&1 || { cat "$out.d" >&2; exit 1; }
  awk -v t="$tag" '$1=="dctrain" && NF==4 {print t, $3, $4}' "$out.d" >> "$out"
  awk -v t="$tag" '/MB summed per step/ {for (i=1;i<=NF;i++) if ($i=="MB") print t, "mb", $(i-1)}' "$out.d" >> "$out"
}
for r in $(seq "$rounds"); do
  for nb in $nets; do
    net=${nb%%:*} batch=${nb##*:}
    run "$net/1x2" build/dctrain bench "nets/$net.net" --batch "$batch" --threads 2 --seconds "$seconds"
    run "$net/2x1" mpirun -np 2 build/dctrain bench "nets/$net.net" --batch "$batch" --threads 1 --seconds "$seconds"
    run "$net/2x1-no-overlap" mpirun -np 2 build/dctrain bench "nets/$net.net" --batch "$batch" --threads 1 \
      --seconds "$seconds" --overlap 0
  done
done
median() { sort -g | awk '{a[NR]=$1} END { if (NR==0) print "-"; else print a[int((NR+1)/2)] }'; }
get() { awk -v t="$1" -v k="$2" '$1==t && $2==k {print $3}' "$out" | median; }
echo "training images/s, medians of $rounds interleaved rounds ($(nproc) cores; $(date -u +%Y-%m-%d))"
printf '%-8s %6s %-22s %10s %9s %13s %11s\n' net batch layout "img/s" "vs 1x2" "allreduce wait" "MB/step"
for nb in $nets; do
  net=${nb%%:*} batch=${nb##*:}
  base=$(get "$net/1x2" train)
  for layout in 1x2 2x1 2x1-no-overlap; do
    v=$(get "$net/$layout" train); w=$(get "$net/$layout" allreduce_wait_share); mb=$(get "$net/$layout" mb)
    case $layout in 1x2) name="1 rank x 2 threads" ;; 2x1) name="2 ranks x 1 thread" ;; *) name="2x1, no overlap" ;; esac
    printf '%-8s %6s %-22s %10.1f %9s %13s %11s\n' "$net" "$batch" "$name" "$v" \
      "$(awk -v a="$v" -v b="$base" 'BEGIN{printf "%.0f%%", 100*a/b}')" \
      "$( [ "$w" = - ] && echo - || awk -v w="$w" 'BEGIN{printf "%.1f%%", 100*w}')" "$mb"
  done
done
