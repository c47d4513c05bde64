#!/usr/bin/env bash
# scripts/bench.sh — a benchmark, not a test: training and inference images/s of LeNet-5 and
# LeNet-300-100 at batch 64 with 2 threads, dctrain beside PyTorch, plus peak RSS, as a table.
#
# PyTorch runs when Debian's python3-torch is installed (apt-get install python3-torch
# libopenblas0-openmp; `--install` does it), with the OpenMP build of OpenBLAS selected for
# that process and torch.set_num_threads(2): PyTorch at its best here (see
# scripts/bench_torch.py). The machine is noisy, so the two run interleaved, ROUNDS times
# (default 3), and the table shows medians.
#   scripts/bench.sh [--install] [--rounds N] [--seconds S]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rounds=3 seconds=3 install=0
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=1 ;;
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
bash scripts/setup.sh >/dev/null
if [ "$install" = 1 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get install -y -qq python3-torch libopenblas0-openmp >/dev/null
fi
ompblas=/usr/lib/x86_64-linux-gnu/openblas-openmp
have_torch=0
if /usr/bin/python3 -c 'import torch' 2>/dev/null && [ -e "$ompblas/libblas.so.3" ]; then have_torch=1; fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  for net in lenet5 lenet300; do
    build/dctrain bench "nets/$net.net" --batch 64 --threads 2 --seconds "$seconds" > "$out.d" 2>&1 ||
      { cat "$out.d" >&2; exit 1; }
    grep -E '^dctrain ' "$out.d" | sed "s/peak_rss_mib/$net peak_rss_mib/" >> "$out"
    [ "$r" = 1 ] && grep -vE '^dctrain ' "$out.d" > "$out.$net.profile"
    if [ "$have_torch" = 1 ]; then
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE LD_LIBRARY_PATH="$ompblas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        /usr/bin/python3 scripts/bench_torch.py --net "$net" --threads 2 --seconds "$(awk -v s="$seconds" 'BEGIN{print s/5}')" \
        2>/dev/null | awk -v n="$net" '$1=="torch" && (NF==4 || $2=="peak_rss_mib") { if ($2=="peak_rss_mib") print "torch", n, "peak_rss_mib", $3; else print }' >> "$out"
    fi
  done
done
rm -f "$out.d"

median() { sort -n | awk '{a[NR]=$1} END { if (NR==0) print "-"; else print a[int((NR+1)/2)] }'; }
get() { awk -v w="$1" -v n="$2" -v m="$3" '$1==w && $2==n && $3==m {print $4}' "$out" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="-" || b=="-" || b==0) print "-"; else printf "%.2fx", a/b }'; }

echo "batch 64, 2 threads, medians of $rounds interleaved rounds ($(nproc) cores; $(date -u +%Y-%m-%d))"
printf '%-10s %-6s %14s %14s %8s\n' net mode "dctrain img/s" "torch img/s" ratio
for net in lenet5 lenet300; do
  for mode in train infer; do
    d=$(get dctrain "$net" "$mode"); t=$(get torch "$net" "$mode")
    printf '%-10s %-6s %14.0f %14s %8s\n' "$net" "$mode" "$d" "$( [ "$t" = - ] && echo - || printf '%.0f' "$t")" "$(ratio "$d" "$t")"
  done
done
for net in lenet5 lenet300; do
  d=$(get dctrain "$net" peak_rss_mib); t=$(get torch "$net" peak_rss_mib)
  printf '%-10s %-6s %12s MiB %10s MiB\n' "$net" "RSS" "$d" "$t"
done
[ "$have_torch" = 1 ] || echo "(PyTorch not installed: scripts/bench.sh --install adds python3-torch and libopenblas0-openmp)"
echo
echo "where a dctrain training step goes (first round):"
cat "$out.lenet5.profile" "$out.lenet300.profile"
rm -f "$out".*.profile
