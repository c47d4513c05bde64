#!/usr/bin/env bash
# scripts/demo.sh — the main job on a fresh Debian machine: install what is missing,
# build, fetch and md5-verify MNIST, then train (and compress) LeNet-5:
#   build/dctrain experiments/lenet5.cfg
# Pass another experiment as the first argument to run that instead.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/fetch-mnist.sh data/mnist
exp=${1:-experiments/lenet5.cfg}
echo "demo: build/dctrain $exp"
exec build/dctrain "$exp"
