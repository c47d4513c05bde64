#!/usr/bin/env bash
# scripts/test.sh — set up (apt packages, build), fetch real MNIST, run every test with
# ctest, run the single-host Slurm cluster test (as root), then build the library and tests
# again with AddressSanitizer + UBSan in build-asan/ and run them there, then run each fuzz
# target for 20 s. Exits non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# CI builds with warnings as errors, with gcc (build/) and clang (the sanitizer build)
DC_WERROR=ON bash scripts/setup.sh --tests
bash scripts/fetch-mnist.sh data/mnist

echo "test: ctest in build/"
(cd build && ctest --output-on-failure -j2)

# A real single-host Slurm cluster (the daemons run as root): the sbatch example stopped
# and requeued three times must end with the uninterrupted run's model. One line, or the
# whole log on failure.
if [ "$(id -u)" -eq 0 ]; then
  echo "test: Slurm cluster test (scripts/cluster-test.sh, log in build/cluster-test.log)"
  bash scripts/cluster-test.sh > build/cluster-test.log 2>&1 || { cat build/cluster-test.log >&2; exit 1; }
  tail -n 1 build/cluster-test.log
else
  echo "test: Slurm cluster test skipped: it starts Slurm's daemons as root (sudo scripts/cluster-test.sh)"
fi

# The sanitizer build is the one-process build (-DDC_MPI=OFF): LeakSanitizer would report
# the MPI runtime's own allocations, and this way both builds are tested. It is built with
# clang, the other with gcc.
echo "test: AddressSanitizer + UBSan build (clang, without MPI) in build-asan/"
# -DDC_FUZZ=ON: the same build also carries the fuzz targets (libFuzzer coverage on top of
# the sanitizers), run below
CC=clang-14 cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDC_SANITIZE=ON -DDC_FUZZ=ON -DDC_MPI=OFF -DDC_WERROR=ON >/dev/null
if ! cmake --build build-asan -j"$(nproc)" > build-asan.log 2>&1; then
  grep -vE '^\[ *[0-9]+%\]' build-asan.log >&2
  echo "build failed (full log: build-asan.log)" >&2
  exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && DC_SANITIZED=1 ctest --output-on-failure -j2)

# A short exploratory fuzzing pass: every reader of a user's file, 20 s each (tests/fuzz/,
# README "Fuzzing"). The inputs of fixed findings are replayed by ctest above (fatal); a
# new finding here is printed with its input (build-asan/findings/) but does not fail the
# run, since a pass explores new inputs each time (most findings so far were inside
# Debian's stb_image 2.27 and libhdf5 1.10): fix it and add its input to tests/fuzz/regress/.
echo "test: fuzz targets, 20 s each (scripts/fuzz.sh in build-asan/)"
if ! DC_FUZZ_BUILD=build-asan bash scripts/fuzz.sh 20; then
  echo "test: WARNING: the fuzzing pass found new inputs to fix (build-asan/findings/; see above)" >&2
fi
