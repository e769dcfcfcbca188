#!/usr/bin/env bash
# The README's main job. On a fresh Debian 12 machine: installs the packages,
# builds what the job runs (the four services, mend-audit, mend-token,
# mend-scenario, mendctl; no tests, no benchmarks) and installs it into out/
# (or $MEND_PREFIX), starts the four services on a fresh local state
# (scripts/mend-local.sh start --reset: mutual TLS, verified tokens), drives
# the case study through them (mend-scenario, which audits its own case and
# writes the report), then verifies each of the four logs and checks every
# case's decisions with mend-audit, and stops the services (also when a step
# fails). Exits non-zero if any step fails.
#
#   MEND_SKIP_DEPS=1   skip the package step
#   MEND_JOBS=N        build parallelism (default: every core)
#   MEND_PREFIX=DIR    install prefix (default ./out)
#   MEND_BUILD_DIR=DIR build directory (default ./build-run: its own, since
#                      scripts/test.sh builds ./build with the tests)
#   MEND_LOCAL_DIR     the local services' state (default ./.mend-local;
#                      scripts/lib/local-layout.sh); the scenario's report and
#                      summary go to its scenario/ directory
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${MEND_PREFIX:-$ROOT/out}"
BUILD_DIR="${MEND_BUILD_DIR:-$ROOT/build-run}"
START=$SECONDS

phase() {
  echo "== $* ($(date +%T), $((SECONDS - START)) s in)"
}

if [[ "${MEND_SKIP_DEPS:-0}" != 1 ]]; then
  phase "packages (scripts/install-deps.sh --main-job)"
  bash "$ROOT/scripts/install-deps.sh" --main-job
fi

phase "build into $BUILD_DIR"
# No tests and no benchmarks: the job runs neither (scripts/test.sh builds
# them). -O1 with line tables, as the test build: nothing here measures
# speed, and -O2 costs a sixth more compile time (cold: 611 against 522
# CPU-seconds here), the build being most of the job's time.
MEND_PREFIX="$PREFIX" bash "$ROOT/scripts/build.sh" "$BUILD_DIR" \
  -DMEND_BUILD_TESTS=OFF -DMEND_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
cmake --install "$BUILD_DIR" --prefix "$PREFIX" >/dev/null
echo "installed into $PREFIX/bin: $(ls "$PREFIX/bin" | tr '\n' ' ')"

export MEND_BIN="$PREFIX/bin"
# shellcheck source=lib/local-layout.sh
source "$ROOT/scripts/lib/local-layout.sh"
LOCAL="$ROOT/scripts/mend-local.sh"
SCENARIO_OUT="$LOCAL_DIR/scenario"
BIN="$PREFIX/bin"

# From here on the services run: whatever happens, they are stopped, and a
# step still running when the job is interrupted ends first (it would retry
# against the stopped services for a minute).
STARTED=0
STEP_PID=""
stop_services() {
  if [[ -n "$STEP_PID" ]]; then
    kill -TERM "$STEP_PID" 2>/dev/null || true
    wait "$STEP_PID" 2>/dev/null || true
    STEP_PID=""
  fi
  if [[ "$STARTED" == 1 ]]; then
    STARTED=0
    phase "stopping the services"
    bash "$LOCAL" stop
  fi
}
trap 'stop_services || true' EXIT

phase "starting the four services (scripts/mend-local.sh start --reset)"
STARTED=1
bash "$LOCAL" start --reset

# Each step runs even when one before it failed (the audit of a log says
# more after a failed scenario, not less); the job fails if any did.
FAILED=()
step() {  # step NAME COMMAND...
  local name="$1" status=0
  shift
  # In the background and waited for, so that a signal to this script runs
  # its trap at once, which knows the step's pid.
  "$@" &
  STEP_PID=$!
  wait "$STEP_PID" || status=$?
  STEP_PID=""
  if [[ "$status" == 0 ]]; then
    echo "-- $name: ok"
  else
    echo "-- $name: FAILED (exit status $status)" >&2
    FAILED+=("$name")
  fi
}

phase "the case study (mend-scenario)"
rm -rf -- "$SCENARIO_OUT"
step "mend-scenario" "$BIN/mend-scenario" \
  "--case_address=$(local_address case)" "--consent_address=$(local_address consent)" \
  "--scheduling_address=$(local_address scheduling)" \
  "--conference_address=$(local_address conference)" \
  "${LOCAL_CLIENT_TLS[@]}" "--token_key=$LOCAL_TOKEN_KEYS/token-key.pem" \
  "--audit_binary=$BIN/mend-audit" "--out_dir=$SCENARIO_OUT"

phase "mend-audit verify, each log (read-only, beside the running service)"
for svc in "${LOCAL_SERVICES[@]}"; do
  step "verify $svc" "$BIN/mend-audit" verify "--log=$(local_log_dir "$svc")" \
    "--public_key=$(local_tree_public_key "$svc")"
done

phase "mend-audit decisions --all (every case, across the four logs)"
step "decisions --all" "$BIN/mend-audit" decisions \
  "--case_log=$(local_log_dir case)" "--consent_log=$(local_log_dir consent)" \
  "--scheduling_log=$(local_log_dir scheduling)" \
  "--conference_log=$(local_log_dir conference)" --all

stop_services || FAILED+=("stop")
trap - EXIT

echo
REPORTS=()
if [[ -d "$SCENARIO_OUT" ]]; then
  mapfile -t REPORTS < <(find "$SCENARIO_OUT" -name '*.html' | sort)
fi
if [[ ${#REPORTS[@]} -gt 0 ]]; then
  echo "the audit's report: ${REPORTS[*]}"
else
  echo "no audit report was written (in $SCENARIO_OUT)" >&2
  FAILED+=("report")
fi
echo "the logs: $LOCAL_DATA/<service>/eventlog; the services' own logs: $LOCAL_LOGS"
if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "== FAILED: ${FAILED[*]} ($((SECONDS - START)) s)" >&2
  exit 1
fi
echo "== the main job passed in $((SECONDS - START)) s"
