#!/usr/bin/env bash
# tests/labs.sh DCTRAIN — keeps the teaching labs true: runs every command of
# docs/labs/lab*.md (the fenced blocks marked "sh lab", in file order) in a scratch
# directory, shortened (fewer iterations, a subset of the test set: see dctrain()
# below), then checks that every figure the labs draw (-o X.png) is a PNG of a sane
# size, that the runs left their files, and that `dctrain plot` refuses bad input with
# one line and a non-zero status, leaving no file behind. Needs MNIST in
# $DC_SOURCE_DIR/data/mnist (scripts/fetch-mnist.sh); exits 77 (skipped) without it.
# DC_LABS_KEEP=DIR runs in DIR and keeps it; DC_SANITIZED (the ASan pass of scripts/test.sh)
# shortens the runs ten times more.
set -euo pipefail
DCTRAIN=${1:?usage: tests/labs.sh DCTRAIN}
DCTRAIN=$(cd "$(dirname "$DCTRAIN")" && pwd)/$(basename "$DCTRAIN")
SRC=${DC_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
MNIST=${DC_MNIST:-$SRC/data/mnist}
if [ ! -e "$MNIST/train-images-idx3-ubyte" ] && [ ! -e "$MNIST/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: no MNIST in $MNIST (run scripts/fetch-mnist.sh)"
  exit 77
fi
if [ -n "${DC_LABS_KEEP:-}" ]; then # keep the scratch directory (to look at the figures)
  work=$DC_LABS_KEEP
  rm -rf "$work" && mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"
ln -s "$SRC/experiments" experiments
ln -s "$SRC/nets" nets
mkdir data
ln -s "$MNIST" data/mnist

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The labs' dctrain, shortened: a training run gets at most 200 dense iterations
# (when its cfg trains at all) and 100 per retraining stage (also when the command sets
# those keys); runs, eval and sensitivity test on 1,000 images; sensitivity tries
# three densities; everything on one thread (ctest runs tests side by side).
CAP_TRAIN=200 CAP_RETRAIN=100 TEST_LIMIT=1000
if [ -n "${DC_SANITIZED:-}" ]; then # the AddressSanitizer build runs the same commands ten times shorter
  CAP_TRAIN=20 CAP_RETRAIN=10 TEST_LIMIT=200
fi
dctrain() {
  local args=() extra=() x cap
  for x in "$@"; do # iteration counts a command sets are capped too
    if [[ $x =~ ^(solver\.max_iter|prune\.retrain_iters|prune\.final_retrain_iters|quantize\.retrain_iters)=([0-9]+)$ ]]; then
      cap=$CAP_RETRAIN
      [ "${BASH_REMATCH[1]}" = solver.max_iter ] && cap=$CAP_TRAIN
      [ "${BASH_REMATCH[2]}" -gt "$cap" ] && x="${BASH_REMATCH[1]}=$cap"
    fi
    args+=("$x")
  done
  set -- "${args[@]}"
  local a=" $* "
  case "${1:-}" in
    *.cfg)
      local cfg=$1 it
      it=$(sed -n 's/^[[:space:]]*max_iter[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$cfg" | head -1)
      if [ "${it:-0}" != 0 ] && [[ $a != *solver.max_iter=* ]]; then extra+=(--set solver.max_iter=$CAP_TRAIN); fi
      if grep -q '^\[prune\]' "$cfg" && [[ $a != *prune.retrain_iters=* ]]; then extra+=(--set prune.retrain_iters=$CAP_RETRAIN); fi
      if grep -q '^\[quantize\]' "$cfg" && [[ $a != *quantize.retrain_iters=* ]]; then
        extra+=(--set quantize.retrain_iters=$CAP_RETRAIN)
      fi
      extra+=(--set data.test_limit=$TEST_LIMIT --threads 1)
      ;;
    eval) extra+=(--set data.test_limit=$TEST_LIMIT --threads 1) ;;
    sensitivity) extra+=(--densities 100,50,10 --set data.test_limit=$TEST_LIMIT --threads 1) ;;
  esac
  echo "+ dctrain $* ${extra[*]}" >&2
  "$DCTRAIN" "$@" "${extra[@]}"
}

# ---- every lab's commands, in order (each lab reuses the runs of the ones before)
labs=("$SRC"/docs/labs/lab[0-9]*.md)
[ ${#labs[@]} -ge 5 ] || fail "expected five labs in docs/labs, found ${#labs[@]}"
: > commands.sh
for md in "${labs[@]}"; do
  n=$(awk '/^```sh lab[[:space:]]*$/ {n++} END {print n + 0}' "$md")
  [ "$n" -ge 1 ] || fail "$md has no \`\`\`sh lab block"
  echo "# ---- $md" >> commands.sh
  awk '/^```sh lab[[:space:]]*$/ {on = 1; next} /^```/ {on = 0} on' "$md" >> commands.sh
done
start=$SECONDS
export DCTRAIN CAP_TRAIN CAP_RETRAIN TEST_LIMIT
export -f dctrain
bash -e -o pipefail ./commands.sh > lab-output.txt 2>&1 || { tail -30 lab-output.txt >&2; fail "a lab command failed (above)"; }
echo "lab commands: $(grep -c '^+ dctrain' lab-output.txt) dctrain runs in $((SECONDS - start)) s"

# ---- what they wrote
png_ok() { # FILE: a PNG between 5 KB and 300 KB, 300..2000 pixels a side
  local f=$1 size w h
  [ -f "$f" ] || fail "$f was not written"
  [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$f is not a PNG"
  size=$(stat -c %s "$f")
  [ "$size" -ge 5000 ] && [ "$size" -le 300000 ] || fail "$f has $size bytes (expected 5 KB to 300 KB)"
  w=$((16#$(od -An -tx1 -j16 -N4 "$f" | tr -d ' \n')))
  h=$((16#$(od -An -tx1 -j20 -N4 "$f" | tr -d ' \n')))
  [ "$w" -ge 300 ] && [ "$w" -le 2000 ] && [ "$h" -ge 300 ] && [ "$h" -le 2000 ] || fail "$f is ${w}x$h pixels"
  [ ! -e "$f.tmp" ] || fail "$f.tmp left behind"
}
pngs=$(grep -o -- '-o [^ ]*\.png' commands.sh | sed 's/^-o //' | sort -u)
npng=0
for f in $pngs; do
  png_ok "$f"
  npng=$((npng + 1))
done
[ "$npng" -ge 8 ] || fail "the labs draw only $npng figures"
for f in runs/lab1/train.h5 runs/lab1/log.csv runs/lab2/prune1.h5 runs/lab3/prune4.h5 runs/lab4/quantize.h5 \
  runs/lab4/model.dcz runs/lab5/model.dcz; do
  [ -s "$f" ] || fail "$f was not written by the lab commands"
done
size=$(stat -c %s runs/lab4/model.dcz)
[ "$size" -ge 5000 ] && [ "$size" -le 200000 ] || fail "runs/lab4/model.dcz has $size bytes"

# ---- bad input: exit status, one line on stderr naming the problem, no output file
refuse() { # STATUS PATTERN ARGS...: dctrain plot ARGS must exit STATUS with one line matching PATTERN
  local want=$1 pat=$2 rc=0
  shift 2
  rm -f bad.png bad.png.tmp
  "$DCTRAIN" plot "$@" > out.txt 2> err.txt || rc=$?
  [ "$rc" = "$want" ] || fail "dctrain plot $*: status $rc, expected $want ($(cat err.txt))"
  [ "$(wc -l < err.txt)" = 1 ] || fail "dctrain plot $*: expected one line on stderr, got: $(cat err.txt)"
  grep -q -- "$pat" err.txt || fail "dctrain plot $*: '$(cat err.txt)' does not say '$pat'"
  [ ! -e bad.png ] && [ ! -e bad.png.tmp ] || fail "dctrain plot $*: left bad.png behind"
}
: > empty.csv
head -1 runs/lab1/log.csv > header-only.csv
printf 'stage,stage_iter,iter,phase,loss\ntrain,1,1,train,abc\n' > garbled.csv
refuse 1 "missing.csv: cannot open" curves missing.csv -o bad.png
refuse 1 "empty.csv: empty file" curves empty.csv -o bad.png
refuse 1 "header-only.csv: no progress or test lines" curves header-only.csv -o bad.png
refuse 1 "garbled.csv:2:" curves garbled.csv -o bad.png
refuse 1 "runs/lab1/train.h5:1: not a dctrain log.csv" curves runs/lab1/train.h5 -o bad.png
refuse 1 "no weighted layer 'iq3' (it has: ip1, ip2, ip3; did you mean 'ip3'?)" hist runs/lab1/train.h5 --layer iq3 -o bad.png
refuse 1 "no weighted layer 'ip0'" hist runs/lab4/model.dcz --layer ip0 -o bad.png
refuse 1 "missing.h5: cannot open" hist missing.h5 --layer ip1 -o bad.png
refuse 1 "layer ip1 is not shared" hist runs/lab1/train.h5 --layer ip1 --codebook runs/lab1/train.h5 -o bad.png
refuse 1 "log.csv" hist runs/lab1/log.csv --layer ip1 -o bad.png
refuse 1 "input of fc layer ip2 is not the image" mask runs/lab3/prune4.h5 --layer ip2 --net nets/lenet300.net -o bad.png
refuse 1 "input of fc layer ip3 is not the image" mask runs/lab4/model.dcz --layer ip3 -o bad.png
refuse 1 "HDF5 weights carry no net file" mask runs/lab3/prune4.h5 --layer ip1 -o bad.png
refuse 1 "no weighted layer 'conv1'" mask runs/lab3/prune4.h5 --layer conv1 --net nets/lenet5.net -o bad.png
refuse 1 "not a .dcz" codes runs/lab4/quantize.h5 --layer ip1 -o bad.png
refuse 1 "no stages.csv" tradeoff runs -o bad.png
refuse 1 "no readable model.dcz" tradeoff runs/lab3 -o bad.png
refuse 2 "unknown kind 'histo' (did you mean 'hist'?)" histo runs/lab1/train.h5 --layer ip1 -o bad.png
refuse 2 "missing -o OUT.png" hist runs/lab1/train.h5 --layer ip1
refuse 2 "missing --layer" mask runs/lab4/model.dcz -o bad.png
refuse 2 "one input file" hist runs/lab1/train.h5 runs/lab2/prune1.h5 --layer ip1 -o bad.png
refuse 2 "bins" hist runs/lab1/train.h5 --layer ip1 --bins 2 -o bad.png
"$DCTRAIN" plot --help | grep -q "dctrain plot curves LOG.csv" || fail "dctrain plot --help"
"$DCTRAIN" --help | grep -q "plot KIND" || fail "dctrain --help does not list plot"
echo "PASS: $npng figures, $(grep -c '^+ dctrain' lab-output.txt) lab commands, bad input refused"
