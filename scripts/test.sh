#!/usr/bin/env bash
# Runs every test of attnreg: installs what is missing, then
#   1. the Release build (CUDA plugin compiled when nvcc is there) and its CTest suite
#      (GPU tests skip with a message where no CUDA device exists);
#   2. the CMake package: install, then build and run an outside consumer project;
#   3. the suite again under AddressSanitizer + UndefinedBehaviorSanitizer;
#   4. the suite under ThreadSanitizer (all but the OpenMP tests, label no_tsan);
#   5. the libFuzzer target over name lookup and class-path validation, time-bounded;
#   6. the Python package (pip install .) and its pytest suite.
# STAGES="release asan" runs a subset; FUZZ_SECONDS sets the fuzzing budget.
set -euo pipefail
cd "$(dirname "$0")/.."
stages=${STAGES:-"release package asan tsan fuzz python"}
jobs=$(nproc)
export CTEST_OUTPUT_ON_FAILURE=1

scripts/setup.sh

has_stage() { [[ " $stages " == *" $1 "* ]]; }
banner() { printf '\n==== %s ====\n' "$*"; }

if has_stage release; then
  banner "release build + tests"
  BUILD_DIR=build scripts/build.sh
  ctest --test-dir build --parallel "$jobs" --timeout 600 -LE package
fi

if has_stage package; then
  banner "CMake package: install + outside consumer"
  tests/package/run_consumer_test.sh build
fi

if has_stage asan; then
  banner "AddressSanitizer + UndefinedBehaviorSanitizer"
  BUILD_DIR=build-asan scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNREG_SANITIZE=address,undefined \
    -DATTNREG_ENABLE_CUDA=OFF -DATTNREG_BUILD_BENCH=OFF -DATTNREG_BUILD_EXAMPLES=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --parallel "$jobs" --timeout 900 -LE package
fi

if has_stage tsan; then
  banner "ThreadSanitizer (concurrency tests)"
  BUILD_DIR=build-tsan scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNREG_SANITIZE=thread \
    -DATTNREG_ENABLE_CUDA=OFF -DATTNREG_BUILD_BENCH=OFF -DATTNREG_BUILD_EXAMPLES=OFF -DATTNREG_BUILD_TOOLS=OFF
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --test-dir build-tsan --parallel "$jobs" --timeout 900 -LE "no_tsan|package"
fi

if has_stage fuzz; then
  banner "libFuzzer (${FUZZ_SECONDS:-60} s)"
  # The fuzz target lives in the test tree; only it (and the core) is built.
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DATTNREG_BUILD_FUZZ=ON -DATTNREG_BUILD_TESTS=ON -DATTNREG_SANITIZE=address,undefined -DATTNREG_ENABLE_CUDA=OFF \
    -DATTNREG_BUILD_BENCH=OFF -DATTNREG_BUILD_EXAMPLES=OFF -DATTNREG_BUILD_TOOLS=OFF >/dev/null
  cmake --build build-fuzz --target fuzz_registry
  # New inputs go to a scratch directory (the first); the seed corpus is only read.
  scratch=$(mktemp -d)
  build-fuzz/bin/fuzz_registry -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -print_final_stats=1 \
    "$scratch" tests/fuzz/corpus/registry
fi

if has_stage python; then
  banner "Python package + pytest"
  # A virtual environment of its own, so nothing lands in the system's Python.
  python3 -m venv build-venv
  build-venv/bin/python -m pip install -q --upgrade pip
  build-venv/bin/python -m pip install -q ".[test]"
  build-venv/bin/python -m pytest -q tests/python
fi
