#!/usr/bin/env bash
# The local runner (scripts/mend-local.sh) on the built binaries, real
# processes and sockets, in a temporary state directory on free ports:
#
#   tests/e2e/mend_local_test.sh ROOT BINARY...   (ctest: label "local")
#
# BINARY: the built mend-case, mend-consent, mend-scheduling, mend-conference,
# mend-token and mendctl. Asserts, in order:
#   1. help prints the usage, an unknown command exits 1, and status before
#      anything was made refuses (exit 1, "nothing was started");
#   2. start: exit 0, all four SERVING; each runs with mutual TLS, token
#      verification, its tree-head key and the upstreams of DESIGN's
#      subscription table (its command line);
#   3. status: exit 0, four SERVING rows, every log at head 0, each follower
#      listed at lag 0;
#   4. the services refuse a client without a certificate and a token from
#      another signing key;
#   5. a referral through mendctl moves the case log's head; the case log's
#      three followers are connected at lag 0 and consent logged what it
#      observed (its head moved);
#   6. start while running: exit 0, the same processes;
#   7. another state directory on the same ports is refused (port in use);
#   8. stop: exit 0, each "stopped ... exit status 0", the processes gone;
#      status then exits 1 with each "stopped (exit 0)";
#   9. a wrong master key: start exits 1 naming the case service, which exited
#      before it was SERVING, and the log line saying why; nothing is left
#      running;
#  10. start again (the key restored): the heads of step 5 survive;
#  11. start --reset while running: the services are stopped, the data wiped,
#      every head back to 0;
#  12. stop: exit 0, nothing left running.
# MEND_KEEP_TEST_DIRS=1 keeps the temporary directory.
set -euo pipefail
ROOT="$1"
shift
LOCAL="$ROOT/scripts/mend-local.sh"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/mend-local-test.XXXXXX")"
mkdir -p "$TMP/bin"
for binary in "$@"; do
  [[ -x "$binary" ]] || { echo "not an executable: $binary" >&2; exit 1; }
  ln -s "$binary" "$TMP/bin/$(basename "$binary")"
done

# Ports outside the kernel's ephemeral range (so no outgoing connection holds
# one), each free now: nothing accepts a connection on it.
used=" "
pick_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    [[ "$used" == *" $port "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    echo "$port"
    return
  done
}
export MEND_BIN="$TMP/bin" MEND_LOCAL_DIR="$TMP/state"
for svc in CASE CONSENT SCHEDULING CONFERENCE; do
  p="$(pick_port)"; used+="$p "; export "MEND_LOCAL_${svc}_PORT=$p"
  p="$(pick_port)"; used+="$p "; export "MEND_LOCAL_${svc}_METRICS_PORT=$p"
done
# shellcheck source=../../scripts/lib/local-layout.sh
source "$ROOT/scripts/lib/local-layout.sh"
MENDCTL="$TMP/bin/mendctl"

cleanup() {
  local status=$?
  bash "$LOCAL" stop >/dev/null 2>&1 || true
  # Whatever a failed stop left (never a process of another state directory).
  local pid_file pid
  for pid_file in "$LOCAL_RUN"/*.pid "$TMP"/other/run/*.pid; do
    [[ -f "$pid_file" ]] || continue
    pid="$(<"$pid_file")"
    if grep -qF -- "$TMP" "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid" || true; fi
  done
  if [[ "${MEND_KEEP_TEST_DIRS:-0}" == 1 ]]; then
    echo "kept $TMP"
  else
    rm -rf -- "$TMP"
  fi
  exit "$status"
}
trap cleanup EXIT

OUT="$TMP/out"
fail() {
  echo "FAIL: $*" >&2
  [[ -f "$OUT" ]] && sed 's/^/  | /' "$OUT" >&2
  exit 1
}
ok() { echo "ok - $*"; }

# run EXPECTED_STATUS ARGS...: mend-local.sh with ARGS; its output in $OUT.
run() {
  local expected="$1" status=0
  shift
  bash "$LOCAL" "$@" >"$OUT" 2>&1 || status=$?
  [[ "$status" == "$expected" ]] ||
    fail "mend-local.sh $* exited $status, expected $expected"
}
expect_output() {  # expect_output REGEX WHAT
  grep -qE -- "$1" "$OUT" || fail "$2: no line matching /$1/"
}
pids() {
  local svc
  for svc in "${LOCAL_SERVICES[@]}"; do echo -n "$(<"$(local_pid_file "$svc")") "; done
}
head_of() {  # the log head of a service, as mendctl reads it (0 when empty)
  local out
  out="$("$MENDCTL" head "$1" "--address=$(local_address "$1")" "${LOCAL_CLIENT_TLS[@]}" \
    "--token_file=$(local_token_file auditor)")" || fail "mendctl head $1: $out"
  if [[ "$out" =~ \"position\"[[:space:]]*:[[:space:]]*\"?([0-9]+) ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo 0
  fi
}
heads() {
  local svc
  for svc in "${LOCAL_SERVICES[@]}"; do echo -n "$svc=$(head_of "$svc") "; done
}

# 1.
run 0 help
expect_output "start \[--reset\]" "help"
run 1 restart
expect_output "unknown command 'restart'" "an unknown command"
run 1 status
expect_output "nothing was started" "status before start"
ok "status before anything was started refuses"

# 2.
run 0 start
for svc in "${LOCAL_SERVICES[@]}"; do
  expect_output "^mend-local: $svc SERVING on 127.0.0.1:$(local_port "$svc")" "start"
done
ok "start: four services SERVING"
CASE_FOLLOWS=0
grep -q "no --upstream_scheduling" "$OUT" || CASE_FOLLOWS=1
expect_flags() {  # expect_flags SVC FLAG...: each FLAG is one argument of SVC's process
  local svc="$1" cmdline flag
  shift
  cmdline="$(tr '\0' '\n' <"/proc/$(<"$(local_pid_file "$svc")")/cmdline")"
  for flag in "$@"; do
    grep -qxF -- "$flag" <<<"$cmdline" || fail "$svc runs without $flag: $cmdline"
  done
}
for svc in "${LOCAL_SERVICES[@]}"; do
  expect_flags "$svc" --tls_require_client_cert "--tls_ca=$LOCAL_TLS/ca.pem" \
    "--tls_cert=$LOCAL_TLS/$svc.pem" "--token_public_key=$LOCAL_TOKEN_KEYS/token-pub.pem" \
    "--tree_head_key=$(local_tree_key "$svc")" "--data_dir=$(local_data_dir "$svc")"
done
expect_flags consent "--upstream_case=$(local_address case)" \
  "--service_token_file=$(local_token_file consent)"
expect_flags scheduling "--upstream_case=$(local_address case)" \
  "--upstream_consent=$(local_address consent)"
expect_flags conference "--upstream_case=$(local_address case)" \
  "--upstream_consent=$(local_address consent)" \
  "--upstream_scheduling=$(local_address scheduling)" "--master_key=$LOCAL_MASTER_KEY"
expect_flags case "--master_key=$LOCAL_MASTER_KEY"
if ! grep -q "no --attendance_before_start" "$OUT"; then
  expect_flags scheduling --attendance_before_start=2400h
fi
if [[ "$CASE_FOLLOWS" == 1 ]]; then
  expect_flags case "--upstream_scheduling=$(local_address scheduling)" \
    "--upstream_conference=$(local_address conference)"
fi
[[ "$(stat -c %a "$LOCAL_MASTER_KEY")" == 600 ]] || fail "master key is not mode 0600"
ok "each service runs with mutual TLS, token verification, its keys and DESIGN's upstreams"

# 3. The followers connect just after SERVING: wait (bounded) for them.
follows=("consent case" "scheduling case" "scheduling consent" "conference case"
  "conference consent" "conference scheduling")
[[ "$CASE_FOLLOWS" == 0 ]] || follows+=("case scheduling" "case conference")
status_complete() {
  bash "$LOCAL" status >"$OUT" 2>&1 || return 1
  local svc edge current=""
  for svc in "${LOCAL_SERVICES[@]}"; do
    grep -qE "^$svc +[0-9]+ +running +SERVING +0 +127.0.0.1:$(local_port "$svc")$" "$OUT" ||
      return 1
  done
  for edge in "${follows[@]}"; do
    # Each follower line comes under the row of the service that follows.
    current="$(awk -v s="${edge% *}" -v u="${edge#* }" '
      $1 == s { mine = 1; next } /^[a-z]/ { mine = 0 }
      mine && $1 == "follows" && $2 == u { print }' "$OUT")"
    # Connected only once a message came: an empty upstream sends none.
    [[ "$current" =~ lag\ 0\ event\(s\), ]] || return 1
  done
}
deadline=$((SECONDS + 20))
until status_complete; do
  ((SECONDS < deadline)) || fail "status: not four SERVING at head 0 with ${#follows[@]} followers connected within 20 s"
  sleep 0.1
done
ok "status: four SERVING at head 0, ${#follows[@]} followers listed at lag 0"

# 4.
if "$MENDCTL" health "--address=$(local_address case)" "--tls_ca=$LOCAL_TLS/ca.pem" \
  --deadline=3s >"$OUT" 2>&1; then
  fail "a client without a certificate was answered"
fi
bash "$ROOT/scripts/dev-token-key.sh" "$TMP/other-key" >/dev/null
"$TMP/bin/mend-token" "--key=$TMP/other-key/token-key.pem" --subject=al --role=auditor \
  >"$TMP/forged.token"
if "$MENDCTL" head case "--address=$(local_address case)" "${LOCAL_CLIENT_TLS[@]}" \
  "--token_file=$TMP/forged.token" >"$OUT" 2>&1; then
  fail "a token from another signing key was accepted"
fi
expect_output "UNAUTHENTICATED" "a token from another key"
ok "refused: a client without a certificate, a token from another key"

# 5.
"$TMP/bin/mend-token" "--key=$LOCAL_TOKEN_KEYS/token-key.pem" --subject=manager-mo \
  --role=manager >"$TMP/manager.token"
"$MENDCTL" call mend.case.v1.CaseService/ReferCase "--address=$(local_address case)" \
  "${LOCAL_CLIENT_TLS[@]}" "--token_file=$TMP/manager.token" '{
    "requestId": "local-test-refer", "source": "VICTIM_SERVICE",
    "referralDate": "2026-02-10", "offenceCategory": "ACQUISITIVE",
    "offenceSummary": "Street robbery",
    "participants": [
      {"participantId": "su-1", "role": "SERVICE_USER", "details": {"fullName": "Samuel Offleigh"}},
      {"participantId": "v-1", "role": "VICTIM", "details": {"fullName": "Verity Quill"}}]}' \
  >"$OUT" 2>&1 || fail "ReferCase through mendctl"
case_head="$(head_of case)"
((case_head >= 1)) || fail "the case log's head is $case_head after a referral"
deadline=$((SECONDS + 20))
# Each follower of the case log got the referral: connected, lag 0.
case_followers_caught_up() {
  bash "$LOCAL" status >"$OUT" 2>&1 &&
    (($(grep -cE "^ +follows case +lag 0 event\(s\), connected$" "$OUT") == 3)) &&
    (($(head_of consent) >= 1))
}
until case_followers_caught_up; do
  ((SECONDS < deadline)) || fail "the followers of the case log did not catch up within 20 s"
  sleep 0.1
done
before="$(heads)"
ok "a referral: case head $case_head, its three followers caught up ($before)"

# 6.
first_pids="$(pids)"
run 0 start
for svc in "${LOCAL_SERVICES[@]}"; do
  expect_output "^mend-local: $svc already running" "start while running"
done
[[ "$(pids)" == "$first_pids" ]] || fail "start while running changed the processes"
ok "start while running leaves the processes as they are"

# 7.
MEND_LOCAL_DIR="$TMP/other" run 1 start
expect_output "port $(local_port case) \(case\) is in use" "a second instance on the same ports"
ok "another state directory on the same ports is refused"

# 8.
run 0 stop
for svc in "${LOCAL_SERVICES[@]}"; do
  expect_output "^mend-local: $svc stopped \(pid [0-9]+, exit status 0\)$" "stop"
done
for pid in $first_pids; do
  [[ ! -d "/proc/$pid" ]] || fail "process $pid still runs after stop"
done
run 1 status
for svc in "${LOCAL_SERVICES[@]}"; do
  expect_output "^$svc +- +stopped \(exit 0\)" "status after stop"
done
ok "stop: each drained and exited 0; status says so and exits 1"

# 9.
mv "$LOCAL_MASTER_KEY" "$TMP/master.key"
(umask 077 && openssl rand -hex 32 >"$LOCAL_MASTER_KEY")
run 1 start
expect_output "case exited before it was SERVING" "start with a wrong master key"
expect_output "--master_key: .* is not the master key" "the case log's last lines"
expect_output "stopping what this start launched: case consent scheduling conference" \
  "a failed start"
for svc in "${LOCAL_SERVICES[@]}"; do
  [[ ! -f "$(local_pid_file "$svc")" ]] || fail "$svc is left running by a failed start"
done
mv -f "$TMP/master.key" "$LOCAL_MASTER_KEY"
ok "a wrong master key: start fails naming the case service and its log, and stops the rest"

# 10.
run 0 start
[[ "$(heads)" == "$before" ]] || fail "heads after a restart: $(heads), before: $before"
[[ "$(pids)" != "$first_pids" ]] || fail "the restart kept the old processes"
ok "restarted with the data kept ($before)"

# 11.
run 0 start --reset
expect_output "stopping the running services first" "start --reset while running"
expect_output "wiped" "start --reset"
zero="case=0 consent=0 scheduling=0 conference=0 "
[[ "$(heads)" == "$zero" ]] || fail "heads after --reset: $(heads)"
ok "start --reset: stopped, wiped, every head 0"

# 12.
last_pids="$(pids)"
run 0 stop
for pid in $last_pids; do
  [[ ! -d "/proc/$pid" ]] || fail "process $pid still runs after stop"
done
ok "stop: nothing left running"
