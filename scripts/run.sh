#!/usr/bin/env bash
# The README's main job. On a fresh Debian 12 machine: installs the packages,
# builds and installs mend into out/ (or $MEND_PREFIX), then runs the main
# job. Today that is the event-log benchmark, which exercises the store end to
# end on real RocksDB (durable group-committed appends, replay, raw RocksDB
# baselines) and prints its ratios. Later issues make it the four-service
# case-study scenario and the audit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${MEND_PREFIX:-$ROOT/out}"

if [[ "${MEND_SKIP_DEPS:-0}" != 1 ]]; then
  bash "$ROOT/scripts/install-deps.sh"
fi
# -O2 with line tables: the benchmarks' figures are measured on this build
# (scripts/test.sh builds the same directory at -O1 to test).
MEND_PREFIX="$PREFIX" bash "$ROOT/scripts/build.sh" "$ROOT/build" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
cmake --install "$ROOT/build" --prefix "$PREFIX" >/dev/null
echo "== installed into $PREFIX/bin: $(ls "$PREFIX/bin" | tr '\n' ' ')"

echo "== mend-eventlog-bench"
"$PREFIX/bin/mend-eventlog-bench" "$@"
