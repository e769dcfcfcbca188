#!/usr/bin/env bash
# The README's test command: installs what it needs, builds, and runs every
# test; then rebuilds the unit tests with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs them again. Exits non-zero if any fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${MEND_JOBS:-$(nproc)}"

if [[ "${MEND_SKIP_DEPS:-0}" != 1 ]]; then
  bash "$ROOT/scripts/install-deps.sh"
fi

echo "== formatting (clang-format) $(date +%T)"
bash "$ROOT/scripts/check-format.sh"

echo "== build (-O1, line tables) $(date +%T)"
# A build to test, not to measure (scripts/run.sh builds the benchmarks at
# -O2): -O1 compiles markedly faster; line tables only (-g1) keep file and
# line in stack traces without the time spent writing full debug info.
bash "$ROOT/scripts/build.sh" "$ROOT/build" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
echo "== tests $(date +%T)"
ctest --test-dir "$ROOT/build" --output-on-failure -j "$JOBS" --timeout 600

echo "== unit tests under ASan + UBSan $(date +%T)"
# -O1 (ASan's recommendation: faster tests, the same findings) with line
# tables for the reports.
cmake -S "$ROOT" -B "$ROOT/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 -g1" -DMEND_SANITIZE=ON -DMEND_BUILD_BENCH=OFF >/dev/null
cmake --build "$ROOT/build-asan" -j "$JOBS" --target mend_unit_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$ROOT/build-asan" --output-on-failure -j "$JOBS" -L unit --timeout 900
echo "== thread-safety analysis: libraries and binaries with clang-14 -Wthread-safety -Werror $(date +%T)"
# ThreadSanitizer cannot be used with Debian's (uninstrumented) Abseil, so the
# ABSL_GUARDED_BY annotations are checked by the compiler instead.
# No optimisation and no debug info: only the analysis matters here.
# The same build makes the libFuzzer target (MEND_FUZZ: the verifier's
# libraries with coverage and AddressSanitizer), run next.
cmake -S "$ROOT" -B "$ROOT/build-tsa" -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS="-Wthread-safety -Werror" \
  -DMEND_BUILD_TESTS=OFF -DMEND_BUILD_BENCH=OFF -DMEND_FUZZ=ON >/dev/null
cmake --build "$ROOT/build-tsa" -j "$JOBS"
echo "== fuzzing the record decoder and the audit's verifier (libFuzzer, bounded) $(date +%T)"
# Every mutation of a real log must be named by the verifier, and an
# unchanged log verify; a crash or a miss stops here with the input saved.
FUZZ_DIR="$(mktemp -d)"
(cd "$FUZZ_DIR" && "$ROOT/build-tsa/tools/audit/mend-audit-fuzz" \
   -max_total_time="${MEND_FUZZ_SECONDS:-30}" -seed=1 -print_final_stats=1 "$FUZZ_DIR" \
   2>&1 | tail -n 12)
rm -rf "$FUZZ_DIR"
echo "== all tests passed $(date +%T)"
