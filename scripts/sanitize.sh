#!/usr/bin/env bash
# Sanitizer builds and their tests (docs/testing.md). Usage:
#   scripts/sanitize.sh address  clang build with ASan+UBSan and the libFuzzer targets
#                                (build-fuzz/): unit tests in SHARDS parallel processes (default
#                                2; UNIT=0 skips them), conformance tests (CONFORMANCE=1), CLI
#                                end-to-end tests, then each fuzz target on its committed
#                                seeds and regressions, and for FUZZ_SECONDS (default 20; 0:
#                                the committed inputs only) or FUZZ_RUNS executions from a
#                                fixed seed
#   scripts/sanitize.sh thread   ThreadSanitizer build (build-tsan/): the concurrency tests
# Prints the wall time of each step.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:?usage: scripts/sanitize.sh address|thread}"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
step() {
  local label="$1"
  shift
  local start=$SECONDS
  "$@"
  echo "sanitize: $label took $((SECONDS - start)) s"
}
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The OpenMP runtime (LLVM libomp with clang) is not instrumented: its synchronisation is
# invisible to TSan, which would report its own locks as races.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1"

# Runs a gtest binary as SHARDS processes at once (each a disjoint share of the tests); the log of
# a failing shard is printed.
sharded() {
  local binary="$1" shards="${SHARDS:-2}" failed=0 i
  local pids=()
  for ((i = 0; i < shards; ++i)); do
    GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i "$binary" --gtest_brief=1 \
      >"$build/shard-$i.log" 2>&1 &
    pids+=($!)
  done
  for ((i = 0; i < shards; ++i)); do
    if ! wait "${pids[$i]}"; then
      failed=1
      tail -60 "$build/shard-$i.log"
    fi
  done
  return $failed
}

case "$kind" in
  address)
    build=build-fuzz
    step configure env CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
      -DCMAKE_BUILD_TYPE=Release -DQUENCH_FUZZ=ON -DQUENCH_BUILD_BENCH=OFF "${launcher[@]}" \
      >/dev/null
    targets=(quench_cli fuzz_onnx_model fuzz_npy fuzz_idx fuzz_image fuzz_recipe fuzz_calib_table
      fuzz_checkpoint)
    if [ "${UNIT:-1}" = 1 ]; then targets+=(quench_tests); fi
    if [ "${CONFORMANCE:-0}" = 1 ]; then targets+=(quench_conformance); fi
    step build ninja -C "$build" "${targets[@]}"
    if [ "${UNIT:-1}" = 1 ]; then
      step "unit tests" sharded "$build/tests/quench_tests"
    fi
    if [ "${CONFORMANCE:-0}" = 1 ]; then
      step "conformance tests" "$build/tests/quench_conformance" --gtest_brief=1
    fi
    step "CLI e2e tests" python3 tests/e2e/test_cli.py --build "$build"
    # ASan reserves terabytes of address space: the limits test runs without `ulimit -v`.
    step "limits e2e tests" python3 tests/e2e/test_limits.py --build "$build" --no-rlimit
    step "fuzz targets, committed inputs" ./scripts/fuzz.sh 0
    if [ -n "${FUZZ_RUNS:-}" ]; then
      step "fuzz targets, $FUZZ_RUNS executions each" ./scripts/fuzz.sh 1
    elif [ "${FUZZ_SECONDS:-20}" != 0 ]; then
      step "fuzz targets, ${FUZZ_SECONDS:-20} s each" ./scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
    fi
    ;;
  thread)
    build=build-tsan
    step configure env CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
      -DCMAKE_BUILD_TYPE=Release -DQUENCH_SANITIZE=thread -DQUENCH_BUILD_BENCH=OFF \
      "${launcher[@]}" >/dev/null
    step build ninja -C "$build" quench_tests
    step "concurrency tests" "$build/tests/quench_tests" \
      --gtest_filter='SessionConcurrency.*:Session.ConcurrentRuns*:Session.RunsWithTheRequestedThreadCount:DataDataset.BatchesFromSeveralThreads'
    ;;
  *)
    echo "unknown sanitizer '$kind' (address or thread)" >&2
    exit 2
    ;;
esac
