#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60), from its committed seeds, and prints the
# executions and crashes of each. SECONDS=0 replays the committed seeds and regressions once and
# stops; with FUZZ_RUNS=N each target instead makes N executions from seed FUZZ_SEED (default 1):
# both are deterministic, the test suite's modes. Usage: scripts/fuzz.sh [SECONDS] [TARGET...] (targets: onnx_model
# npy idx image recipe calib_table checkpoint; default all). Needs the clang build of scripts/sanitize.sh
# address (build-fuzz/). Seeds: tests/fuzz/corpus/<target>/ and the inputs of crashes found and
# fixed, tests/fuzz/regressions/<target>/. New inputs go to build-fuzz/fuzz-work/<target>/ (the
# seeds stay as committed); a crash is written there as crash-* and makes the script fail (the
# crash files of earlier runs move to fuzz-work/<target>/earlier/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(onnx_model npy idx image recipe calib_table checkpoint); fi
build=build-fuzz
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# The readers take paths: each input is written to a file, in memory where there is /dev/shm.
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
failed=0
printf '%-12s %12s %8s %s\n' target executions crashes log
for t in "${targets[@]}"; do
  work="$build/fuzz-work/$t"
  mkdir -p "$work/corpus" "$work/earlier"
  # Crash files of earlier runs are kept aside: this run counts its own.
  find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) -exec mv -t "$work/earlier" {} +
  log="$work/run.log"
  set +e
  seeds=("tests/fuzz/corpus/$t")
  if [ -d "tests/fuzz/regressions/$t" ]; then seeds+=("tests/fuzz/regressions/$t"); fi
  corpus="$work/corpus"
  if [ "$seconds" = 0 ]; then
    corpus="$work/replay"  # empty: only the committed inputs run
    rm -rf "$corpus" && mkdir -p "$corpus"
    length=(-runs=0)
  else
    length=(-max_total_time="$seconds")
  fi
  # A fixed number of executions from a fixed seed: the same inputs on every machine.
  if [ -n "${FUZZ_RUNS:-}" ] && [ "$seconds" != 0 ]; then
    corpus="$work/runs"  # empty: the run starts from the committed inputs only
    rm -rf "$corpus" && mkdir -p "$corpus"
    length=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
  fi
  "$build/tests/fuzz/fuzz_$t" "$corpus" "${seeds[@]}" "${length[@]}" \
    -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$work/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' \
    -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
  printf '%-12s %12s %8s %s\n' "$t" "${execs:-?}" "$crashes" "$log"
  if ((status != 0 || crashes != 0)); then failed=1; tail -30 "$log"; fi
done
exit $failed
