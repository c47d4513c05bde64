#!/usr/bin/env bash
# scripts/bench-infer.sh — a benchmark, not a test: compressed models run as they are.
#   1. fc layers of AlexNet and VGG-16 at the paper's densities and bits (5-bit codebooks;
#      AlexNet fc6 9%, fc7 9%, fc8 25%; VGG-16 fc6 3%, fc7 4%, fc8 23%), batch 1 and 64:
#      dense oneDNN inner product against the sparse-quantized kernels, next to the
#      paper's CPU speed-ups (Han et al. 2016, batch 1, CSR fp32 kernels);
#   2. whole-net batch-1 latency: the engine on compressed LeNet-300-100, LeNet-5 and an
#      AlexNet-sized model, against the dense-decoded dctrain net and against PyTorch;
#   3. resident memory of the loaded models beside file and dense sizes;
#   4. the dense/sparse crossover (4096 x 4096 and 1000 x 4096 layers, densities 5..100%,
#      batch 1..256).
# Rounds are interleaved (ROUNDS times: every measurement once per round) and the tables
# show medians. The whole script runs under flock /tmp/dctrain-cpu.lock (it takes the
# lock itself), with GOMP_SPINCOUNT=3000 for every process (dctrain's own setting; see
# README "Performance").
#   scripts/bench-infer.sh [--rounds N] [--seconds S] [--no-crossover] [--models DIR]
# --models DIR: use DIR/lenet300.dcz and DIR/lenet5.dcz (default: runs/lenet300/model.dcz
# and runs/lenet5/model.dcz when the shipped experiments were run, else short runs at the
# paper's densities, made once into bench-infer/). The AlexNet-sized model has random
# weights pruned and quantized as the paper's (bench_infer synth): speed and memory
# depend on its shapes, densities and bits only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [ -z "${DC_BENCH_LOCKED:-}" ]; then
  exec env DC_BENCH_LOCKED=1 flock /tmp/dctrain-cpu.lock "$0" "$@"
fi
export GOMP_SPINCOUNT=3000
rounds=5 seconds=0.6 crossover=1 models=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --no-crossover) crossover=0 ;;
    --models) models=$2; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench-infer.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
bash scripts/setup.sh >/dev/null
[ -e data/mnist/t10k-images-idx3-ubyte ] || [ -e data/mnist/t10k-images-idx3-ubyte.gz ] || bash scripts/fetch-mnist.sh >/dev/null
bi=build/bench_infer
work=bench-infer
mkdir -p "$work"

# ---- the models
model_for() { # NET -> path of a compressed model
  local net=$1
  if [ -n "$models" ]; then echo "$models/$net.dcz"; return; fi
  if [ -e "runs/$net/model.dcz" ]; then echo "runs/$net/model.dcz"; return; fi
  if [ ! -e "$work/$net/model.dcz" ]; then
    local stages
    if [ "$net" = lenet300 ]; then
      stages=$'[prune]\nrounds = 1\nretrain_iters = 2000\nip1 = 8%\nip2 = 9%\nip3 = 26%\n[quantize]\nfc_bits = 6\nretrain_iters = 500\n[encode]\nfc_gap_bits = 8\n'
    else
      stages=$'[prune]\nrounds = 1\nretrain_iters = 1000\nconv1 = 66%\nconv2 = 12%\nip1 = 8%\nip2 = 19%\n[quantize]\nconv_bits = 8\nfc_bits = 5\nretrain_iters = 500\n[encode]\nfc_gap_bits = 8\n'
    fi
    printf '[experiment]\nname = %s\nnet = nets/%s.net\noutput = %s/%s\nthreads = 2\n[data]\ndir = data/mnist\n[solver]\nbase_lr = 0.01\nmomentum = 0.9\nweight_decay = 0.0005\nlr_policy = inv\ngamma = 0.0001\npower = 0.75\nmax_iter = 2000\ntest_interval = 0\ndisplay = 0\nsnapshot = 0\n%s' \
      "$net" "$net" "$work" "$net" "$stages" > "$work/$net.cfg"
    echo "bench-infer: making a compressed $net ($work/$net.cfg)" >&2
    build/dctrain "$work/$net.cfg" > "$work/$net.log"
  fi
  echo "$work/$net/model.dcz"
}
l300=$(model_for lenet300)
l5=$(model_for lenet5)
alex=$work/alexnet.dcz
if [ ! -e "$alex" ]; then
  echo "bench-infer: making an AlexNet-sized compressed model ($alex)" >&2
  $bi synth nets/alexnet.net "$alex" 2> "$work/alexnet.log"
fi
have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch=1

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  echo "bench-infer: round $r of $rounds" >&2
  $bi fc --batch 1,64 --seconds "$seconds" >> "$out"
  $bi net "$l300" nets/lenet300.net --seconds "$seconds" | sed 's/^net [^ ]*/net lenet300/' >> "$out"
  $bi net "$l5" nets/lenet5.net --seconds "$seconds" | sed 's/^net [^ ]*/net lenet5/' >> "$out"
  $bi net "$alex" nets/alexnet.net --seconds "$seconds" | sed 's/^net [^ ]*/net alexnet/' >> "$out"
  if [ "$have_torch" = 1 ]; then
    /usr/bin/python3 scripts/bench_torch_infer.py --threads 2 --seconds "$seconds" | awk '$1=="torch" && $3=="latency_us"' >> "$out"
  fi
  if [ "$crossover" = 1 ]; then $bi crossover --seconds "$(awk -v s="$seconds" 'BEGIN{print s/2}')" >> "$out"; fi
done
for m in lenet300:"$l300":nets/lenet300.net lenet5:"$l5":nets/lenet5.net alexnet:"$alex":nets/alexnet.net; do
  IFS=: read -r name path net <<< "$m"
  $bi rss "$path" engine | sed "s|$path|$name|" >> "$out"
  $bi rss "$path" engine-sparse | sed "s|$path|$name|" >> "$out"
  $bi rss "$path" dense "$net" | sed "s|$path|$name|" >> "$out"
done

median() { sort -g | awk '{a[NR]=$1} END { if (NR==0) print "-"; else print a[int((NR+1)/2)] }'; }
col() { awk -v t="$1" -v a="$2" -v b="$3" -v c="$4" '$1==t && $2==a && (b=="" || $3==b) {print $c}' "$out" | median; }

echo "compressed fc layers, 2 threads, medians of $rounds interleaved rounds ($(nproc) cores; $(date -u +%Y-%m-%d))"
printf '%-12s %5s %12s %12s %9s %12s\n' layer batch "dense us" "sparse us" speed-up "paper (b=1)"
prod=1 k=0
for l in alexnet-fc6 alexnet-fc7 alexnet-fc8 vgg16-fc6 vgg16-fc7 vgg16-fc8; do
  for b in 1 64; do
    d=$(col fc "$l" "$b" 4) s=$(col fc "$l" "$b" 5) p=$(col fc "$l" "$b" 6)
    x=$(awk -v d="$d" -v s="$s" 'BEGIN{printf "%.2f", d/s}')
    [ "$b" = 1 ] && { prod=$(awk -v p="$prod" -v x="$x" 'BEGIN{print p*x}'); k=$((k+1)); }
    printf '%-12s %5s %12.0f %12.0f %8sx %12s\n' "$l" "$b" "$d" "$s" "$x" "$([ "$b" = 1 ] && echo "${p}x" || echo -)"
  done
done
printf 'geometric mean of the batch-1 speed-ups: %sx (paper: 3.3x for these six layers)\n' \
  "$(awk -v p="$prod" -v k="$k" 'BEGIN{printf "%.2f", p^(1/k)}')"
echo
echo "whole net, batch 1, 2 threads: latency in microseconds (medians)"
printf '%-10s %10s %14s %10s %14s %12s\n' net engine "dense dctrain" torch "vs dense" "vs torch"
for n in lenet300 lenet5 alexnet; do
  e=$(col net "$n" "" 3) d=$(col net "$n" "" 4) t=$(col torch "$n" "" 4)
  printf '%-10s %10.1f %14.1f %10s %13sx %11s\n' "$n" "$e" "$d" "$t" "$(awk -v a="$d" -v b="$e" 'BEGIN{printf "%.2f", a/b}')" \
    "$([ "$t" = - ] && echo - || awk -v a="$t" -v b="$e" 'BEGIN{printf "%.2fx", a/b}')"
done
echo
echo "memory of a loaded model (one sample run): file, dense fp32 weights, weights the engine holds and"
echo "its resident growth (automatic fc mode; always-sparse), resident growth of the dense dctrain net"
printf '%-9s %9s %10s %10s %10s %10s %10s %10s\n' model file dense "weights" "RSS" "weights" "RSS" "dense RSS"
printf '%-9s %9s %10s %21s %21s %10s\n' "" "" "weights" "(auto)" "(sparse)" "dctrain"
mb() { awk -v x="$1" -v m="$2" 'BEGIN{printf "%.2f", x*m/1e6}'; }
for n in lenet300 lenet5 alexnet; do
  read -r _ _ _ fs fd cd dm fb <<< "$(awk -v n="$n" '$1=="mem" && $2==n && $3=="engine"' "$out" | head -1)"
  read -r _ _ _ ss sd sc _ _ <<< "$(awk -v n="$n" '$1=="mem" && $2==n && $3=="engine-sparse"' "$out" | head -1)"
  er=$(awk -v n="$n" '$1=="rss" && $2==n && $3=="engine" {print $4}' "$out")
  sr=$(awk -v n="$n" '$1=="rss" && $2==n && $3=="engine-sparse" {print $4}' "$out")
  dr=$(awk -v n="$n" '$1=="rss" && $2==n && $3=="dense" {print $4}' "$out")
  printf '%-9s %6s MB %7s MB %7s MB %7s MB %7s MB %7s MB %7s MB\n' "$n" "$(mb "$fb" 1)" "$(mb "$dm" 1)" \
    "$(mb $((fs + fd + cd)) 1)" "$(mb "$er" 1024)" "$(mb $((ss + sd + sc)) 1)" "$(mb "$sr" 1024)" "$(mb "$dr" 1024)"
done
if [ "$crossover" = 1 ]; then
  for rows in 4096 1000; do
    echo
    echo "crossover, $rows x 4096 fc layer ($((rows * 4096 * 4 / 1000000)) MB dense): sparse time / dense time (below 1: sparse wins), medians"
    printf '%8s' density; for b in 1 4 16 64 256; do printf '%9s' "b=$b"; done; echo
    for d in 5 10 20 35 50 75 100; do
      printf '%7s%%' "$d"
      for b in 1 4 16 64 256; do
        printf '%9s' "$(awk -v d="$(col "xo$rows" "$d" "$b" 4)" -v s="$(col "xo$rows" "$d" "$b" 5)" 'BEGIN{printf "%.2f", s/d}')"
      done
      echo
    done
  done
fi
[ "$have_torch" = 1 ] || echo "(PyTorch not installed: apt-get install python3-torch adds the torch column)"
