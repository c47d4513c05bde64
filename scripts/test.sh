#!/usr/bin/env bash
# scripts/test.sh — set up (apt packages, build), fetch real MNIST, run every test with
# ctest, then build the library and tests again with AddressSanitizer + UBSan in
# build-asan/ and run them there. Exits non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# CI builds with warnings as errors, with gcc (build/) and clang (the sanitizer build)
DC_WERROR=ON bash scripts/setup.sh --tests
bash scripts/fetch-mnist.sh data/mnist

echo "test: ctest in build/"
(cd build && ctest --output-on-failure -j2)

# The sanitizer build is the one-process build (-DDC_MPI=OFF): LeakSanitizer would report
# the MPI runtime's own allocations, and this way both builds are tested. It is built with
# clang, the other with gcc.
echo "test: AddressSanitizer + UBSan build (clang, without MPI) in build-asan/"
CC=clang-14 cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDC_SANITIZE=ON -DDC_MPI=OFF -DDC_WERROR=ON >/dev/null
if ! cmake --build build-asan -j"$(nproc)" > build-asan.log 2>&1; then
  grep -vE '^\[ *[0-9]+%\]' build-asan.log >&2
  echo "build failed (full log: build-asan.log)" >&2
  exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && DC_SANITIZED=1 ctest --output-on-failure -j2)
