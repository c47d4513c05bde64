#!/usr/bin/env bash
# scripts/bench.sh — a benchmark, not a test: training and inference images/s and peak RSS of
# LeNet-5, LeNet-300-100, AlexNet (Caffe's, batch 64) and VGG-16 (batch 16) with 2 threads,
# dctrain beside PyTorch, as a table; then the fraction of this machine's sgemm rate each reaches.
#
# PyTorch runs when Debian's python3-torch is installed (apt-get install python3-torch
# libopenblas0-openmp; `--install` does it), with the OpenMP build of OpenBLAS selected for
# that process and torch.set_num_threads(2): PyTorch at its best here (see
# scripts/bench_torch.py; its AlexNet is Caffe's net rebuilt layer for layer, with groups and
# LRN, its VGG-16 torchvision's). The machine is noisy, so the two run interleaved, ROUNDS times
# (default 3), and the table shows medians. The big nets are slow (VGG-16 about 6 minutes a
# round): --nets picks which run, e.g. --nets alexnet,vgg16 or --nets lenet5,lenet300.
# Holds /tmp/dctrain-cpu.lock while it measures (the machine's cores are shared).
#   scripts/bench.sh [--install] [--rounds N] [--seconds S] [--nets LIST]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rounds=3 seconds=3 install=0 nets="lenet5,lenet300,alexnet,vgg16"
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=1 ;;
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --nets) nets=$2; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
IFS=, read -r -a netlist <<< "$nets"
for net in "${netlist[@]}"; do
  case "$net" in
    lenet5|lenet300|alexnet|vgg16) ;;
    *) echo "bench.sh: --nets: unknown net '$net' (lenet5, lenet300, alexnet, vgg16)" >&2; exit 2 ;;
  esac
done
batch_of() { case "$1" in vgg16) echo 16 ;; *) echo 64 ;; esac; }

bash scripts/setup.sh >/dev/null
if [ "$install" = 1 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get install -y -qq python3-torch python3-torchvision libopenblas0-openmp >/dev/null
fi
ompblas=/usr/lib/x86_64-linux-gnu/openblas-openmp
have_torch=0
if /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null && [ -e "$ompblas/libblas.so.3" ]; then have_torch=1; fi
torch_py() {
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE LD_LIBRARY_PATH="$ompblas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    /usr/bin/python3 scripts/bench_torch.py --threads 2 "$@"
}

out=$(mktemp)
trap 'rm -f "$out" "$out".*' EXIT
exec 9>/tmp/dctrain-cpu.lock
flock 9
if [ "$have_torch" = 1 ]; then
  torch_py --net lenet300 --mode infer --repeats 1 --warmup 0 --iters 1 --sgemm 2>/dev/null |
    awk '$1=="torch" && $2=="sgemm_gflops" {print "sgemm", "-", "gflops", $3}' >> "$out"
fi
for r in $(seq "$rounds"); do
  for net in "${netlist[@]}"; do
    b=$(batch_of "$net")
    build/dctrain bench "nets/$net.net" --batch "$b" --threads 2 --seconds "$seconds" > "$out.d" 2>&1 ||
      { cat "$out.d" >&2; exit 1; }
    grep -E '^dctrain ' "$out.d" | sed "s/peak_rss_mib/$net peak_rss_mib/" >> "$out"
    [ "$r" = 1 ] && grep -vE '^dctrain ' "$out.d" > "$out.$net.profile"
    if [ "$have_torch" = 1 ]; then
      torch_py --net "$net" --batch "$b" --seconds "$(awk -v s="$seconds" 'BEGIN{print s/5}')" 2>/dev/null |
        awk -v n="$net" '$1=="torch" && $2=="peak_rss_mib" { print "torch", n, "peak_rss_mib", $3; next }
                         $1=="torch" && $2=="gflop_per_image" { print "flops", $3, "fwd", $4; print "flops", $3, "train", $5; next }
                         $1=="torch" && NF==4 && ($3=="train" || $3=="infer") { print }' >> "$out"
    fi
  done
done
flock -u 9
rm -f "$out.d"

median() { sort -n | awk '{a[NR]=$1} END { if (NR==0) print "-"; else print a[int((NR+1)/2)] }'; }
get() { awk -v w="$1" -v n="$2" -v m="$3" '$1==w && $2==n && $3==m {print $4}' "$out" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="-" || b=="-" || b==0) print "-"; else printf "%.2fx", a/b }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v=="-") print "-"; else if (v>=100) printf "%.0f", v; else printf "%.2f", v }'; }

echo "2 threads, medians of $rounds interleaved rounds ($(nproc) cores; $(date -u +%Y-%m-%d)); batch 64, VGG-16 16"
printf '%-10s %-6s %14s %14s %8s\n' net mode "dctrain img/s" "torch img/s" ratio
for net in "${netlist[@]}"; do
  for mode in train infer; do
    d=$(get dctrain "$net" "$mode"); t=$(get torch "$net" "$mode")
    printf '%-10s %-6s %14s %14s %8s\n' "$net" "$mode" "$(fmt "$d")" "$(fmt "$t")" "$(ratio "$d" "$t")"
  done
done
for net in "${netlist[@]}"; do
  d=$(get dctrain "$net" peak_rss_mib); t=$(get torch "$net" peak_rss_mib)
  printf '%-10s %-6s %12s MiB %10s MiB\n' "$net" "RSS" "$d" "$t"
done
sg=$(get sgemm - gflops)
if [ "$sg" != - ]; then
  echo
  echo "share of this machine's sgemm rate ($sg GFLOP/s: torch.mm 4096^3 on the OpenMP OpenBLAS, 2 threads, best of 5);"
  echo "GFLOP per image of the conv and fc layers (training: forward + backward-data + backward-weights)"
  printf '%-10s %-6s %10s %12s %12s\n' net mode "GFLOP/img" "dctrain" "torch"
  for net in "${netlist[@]}"; do
    for mode in train infer; do
      fm=$mode; [ "$mode" = infer ] && fm=fwd
      f=$(get flops "$net" "$fm"); d=$(get dctrain "$net" "$mode"); t=$(get torch "$net" "$mode")
      awk -v n="$net" -v m="$mode" -v f="$f" -v d="$d" -v t="$t" -v s="$sg" 'BEGIN {
        if (f == "-") exit
        pd = d == "-" ? "-" : sprintf("%.0f%%", 100 * d * f / s)
        pt = t == "-" ? "-" : sprintf("%.0f%%", 100 * t * f / s)
        printf "%-10s %-6s %10.4f %12s %12s\n", n, m, f, pd, pt }'
    done
  done
fi
[ "$have_torch" = 1 ] || echo "(PyTorch not installed: scripts/bench.sh --install adds python3-torch and libopenblas0-openmp)"
echo
echo "where a dctrain training step goes (first round):"
for net in "${netlist[@]}"; do cat "$out.$net.profile"; done
