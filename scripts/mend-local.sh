#!/usr/bin/env bash
# Runs the four mend services on this machine: loopback, mutual TLS, verified
# tokens, each on its own embedded RocksDB log, following each other as
# DESIGN's subscription table says.
#
#   scripts/mend-local.sh start [--reset]   make keys (once), start, wait for SERVING
#   scripts/mend-local.sh stop              SIGTERM each, wait for it to drain and exit
#   scripts/mend-local.sh status            process, health, log head, follower lag
#   scripts/mend-local.sh help
#
# start keeps the data of an earlier run; --reset stops what runs and wipes
# the data directories and logs first (keys kept). A service already running
# is left as it is. start fails (exit 1) if a port is taken, or a service
# exits or is not SERVING within MEND_LOCAL_START_TIMEOUT seconds (default
# 60): the end of its log says why, and what this start launched is stopped.
#
# stop exits 1 if a service did not exit 0 after SIGTERM, or had to be killed
# after MEND_LOCAL_STOP_TIMEOUT seconds (default 30). status exits 0 only if
# all four run and report SERVING.
#
# A local run is a training environment: mend-scheduling lets a session's
# attendance be recorded up to MEND_LOCAL_ATTENDANCE_BEFORE_START (default
# 2400h; empty: not at all) before it starts, so the case study's twelve
# weeks run through in minutes. Never so in production.
#
# Binaries: every one from $MEND_BIN, else from ${MEND_PREFIX:-./out}/bin
# (where scripts/run.sh installs them): mend-case, mend-consent,
# mend-scheduling, mend-conference, mend-token and mendctl (health and heads).
# State: $MEND_LOCAL_DIR (default ./.mend-local); its layout, the ports
# (case 7001, consent 7002, scheduling 7003, conference 7004; metrics
# 9101..9104) and their overrides are in scripts/lib/local-layout.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/local-layout.sh
source "$ROOT/scripts/lib/local-layout.sh"

readonly START_TIMEOUT="${MEND_LOCAL_START_TIMEOUT:-60}"
readonly STOP_TIMEOUT="${MEND_LOCAL_STOP_TIMEOUT:-30}"
# Service tokens are re-minted at every start; a local run lasting longer
# than this needs a restart (the services re-read the file on every call).
readonly SERVICE_TOKEN_TTL=720h

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
  echo "mend-local: error: $*" >&2
  exit 1
}

info() {
  echo "mend-local: $*"
}

bin() { echo "$LOCAL_BIN/$1"; }

require_binaries() {
  local name missing=()
  for name in "$@"; do
    [[ -x "$(bin "$name")" ]] || missing+=("$name")
  done
  [[ ${#missing[@]} -eq 0 ]] ||
    die "not in $LOCAL_BIN: ${missing[*]} (run scripts/run.sh to build and install into out/, or set MEND_BIN to the directory holding them)"
}

# --- Processes -----------------------------------------------------------------

# The pid of SVC if it runs: the pid file names a live process that is this
# service on this state directory (a pid reused by another process is not).
running_pid() {
  local pid_file pid
  pid_file="$(local_pid_file "$1")"
  [[ -f "$pid_file" ]] || return 1
  pid="$(<"$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null |
    grep -qxF -- "--data_dir=$(local_data_dir "$1")" || return 1
  echo "$pid"
}

# The exit status a stopped SVC left (empty if none was recorded).
exit_status() {
  local exit_file
  exit_file="$(local_exit_file "$1")"
  [[ -f "$exit_file" ]] && cat -- "$exit_file"
  return 0
}

# Whether something accepts connections on 127.0.0.1:PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The flags of SVC: listen, data, metrics, mutual TLS, token verification,
# tree heads, and its upstreams with its own token.
service_args() {
  local svc="$1"
  ARGS=(
    "--listen=$(local_address "$svc")"
    "--data_dir=$(local_data_dir "$svc")"
    "--metrics_listen=127.0.0.1:$(local_metrics_port "$svc")"
    "--tls_cert=$LOCAL_TLS/$svc.pem" "--tls_key=$LOCAL_TLS/$svc-key.pem"
    "--tls_ca=$LOCAL_TLS/ca.pem" --tls_require_client_cert
    "--token_public_key=$LOCAL_TOKEN_KEYS/token-pub.pem"
    "--tree_head_key=$(local_tree_key "$svc")"
    # A local log is small: signed heads every few records rather than the
    # default 1000, so an audit of a short run has heads to check.
    "--tree_head_every_events=${MEND_LOCAL_TREE_HEAD_EVERY_EVENTS:-10}"
  )
  local upstreams=()
  case "$svc" in
    case)
      ARGS+=("--master_key=$LOCAL_MASTER_KEY")
      if [[ "$CASE_FOLLOWS" == 1 ]]; then upstreams=(scheduling conference); fi
      ;;
    consent) upstreams=(case) ;;
    scheduling)
      upstreams=(case consent)
      [[ -z "$ATTENDANCE_BEFORE_START" ]] ||
        ARGS+=("--attendance_before_start=$ATTENDANCE_BEFORE_START")
      ;;
    conference)
      ARGS+=("--master_key=$LOCAL_MASTER_KEY")
      upstreams=(case consent scheduling)
      ;;
  esac
  local up
  for up in "${upstreams[@]}"; do ARGS+=("--upstream_$up=$(local_address "$up")"); done
  if [[ ${#upstreams[@]} -gt 0 ]]; then
    ARGS+=("--service_token_file=$(local_token_file "$svc")")
  fi
}

# Starts SVC detached (its own session: a Ctrl-C in this terminal does not
# reach it) under a small bash that writes the service's pid, waits for it
# and writes its exit status, so stop and status can report how it ended.
# MEND_* variables of this shell are not passed on: the service would read
# them as flags.
launch() {
  local svc="$1"
  local pid_file exit_file log_file name
  pid_file="$(local_pid_file "$svc")"
  exit_file="$(local_exit_file "$svc")"
  log_file="$(local_log_file "$svc")"
  rm -f -- "$pid_file" "$exit_file"
  service_args "$svc"
  local unset_mend=()
  for name in $(compgen -e); do
    [[ "$name" == MEND_* ]] && unset_mend+=(-u "$name")
  done
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c '
    pid_file="$1" exit_file="$2" log_file="$3"
    shift 3
    "$@" </dev/null >>"$log_file" 2>&1 &
    child=$!
    echo "$child" >"$pid_file.tmp" && mv -f "$pid_file.tmp" "$pid_file"
    wait "$child"
    echo "$?" >"$exit_file.tmp" && mv -f "$exit_file.tmp" "$exit_file"
  ' mend-local-"$svc" "$pid_file" "$exit_file" "$log_file" \
    env "${unset_mend[@]}" "$(bin "mend-$svc")" "${ARGS[@]}" \
    </dev/null >/dev/null 2>&1 &
  # The pid file comes a moment after the fork.
  local deadline=$((SECONDS + 10))
  until [[ -f "$pid_file" ]]; do
    ((SECONDS < deadline)) || die "$svc: no pid file $pid_file after 10 s"
    sleep 0.05
  done
}

# health SVC: the service's health status as mendctl prints it (SERVING,
# NOT_SERVING, ...), or the error's code; exit 0 only for SERVING.
health() {
  local out
  if out="$("$(bin mendctl)" health "--address=$(local_address "$1")" \
    "${LOCAL_CLIENT_TLS[@]}" --deadline=2s "$(local_grpc_service "$1")" 2>&1)"; then
    echo "$out" | head -n 1
    return 0
  fi
  # "mendctl: UNAVAILABLE: ..." -> UNAVAILABLE; a status line as it is.
  out="$(echo "$out" | head -n 1)"
  out="${out#mendctl: }"
  echo "${out%%:*}"
  return 1
}

log_tail() {
  local log_file
  log_file="$(local_log_file "$1")"
  echo "--- last lines of $log_file:" >&2
  tail -n 5 -- "$log_file" >&2 || true
}

# Waits until every service in $@ reports SERVING; fails (saying why, with
# the end of the service's log) if one exits or the deadline passes first.
wait_serving() {
  local deadline=$((SECONDS + START_TIMEOUT)) svc
  for svc in "$@"; do
    until health "$svc" >/dev/null; do
      if ! running_pid "$svc" >/dev/null; then
        echo "mend-local: error: $svc exited before it was SERVING (exit status $(exit_status "$svc"))" >&2
        log_tail "$svc"
        return 1
      fi
      if ((SECONDS >= deadline)); then
        echo "mend-local: error: $svc is not SERVING after ${START_TIMEOUT}s (it is $(health "$svc"))" >&2
        log_tail "$svc"
        return 1
      fi
      sleep 0.1
    done
  done
}

# --- Keys ----------------------------------------------------------------------

# Runs a key script, showing its output only when it fails.
run_key_script() {
  local out
  if ! out="$(bash "$ROOT/scripts/$1" "${@:2}" 2>&1)"; then
    echo "$out" >&2
    die "scripts/$1 failed (output above)"
  fi
}

mint() {  # mint SUBJECT ROLE TTL OUT: a token signed with the local key, 0600
  local out="$4"
  (umask 077 && "$(bin mend-token)" "--key=$LOCAL_TOKEN_KEYS/token-key.pem" \
    "--subject=$1" "--role=$2" "--ttl=$3" >"$out.tmp") ||
    die "mend-token could not mint a token for $1"
  mv -f -- "$out.tmp" "$out"
}

# Makes what is missing and keeps what is there: the scripts are idempotent
# (and renew certificates about to expire). Tokens are minted afresh.
ensure_keys() {
  mkdir -p -- "$LOCAL_KEYS" "$LOCAL_TOKENS" "$LOCAL_DATA" "$LOCAL_LOGS" "$LOCAL_RUN"
  chmod 700 -- "$LOCAL_KEYS"
  run_key_script dev-certs.sh "$LOCAL_TLS"
  run_key_script dev-token-key.sh "$LOCAL_TOKEN_KEYS"
  local svc
  for svc in "${LOCAL_SERVICES[@]}"; do
    run_key_script dev-tree-key.sh "$LOCAL_KEYS/tree/$svc"
  done
  if [[ ! -s "$LOCAL_MASTER_KEY" ]]; then
    (umask 077 && openssl rand -hex 32 >"$LOCAL_MASTER_KEY.tmp") ||
      die "openssl rand failed"
    mv -f -- "$LOCAL_MASTER_KEY.tmp" "$LOCAL_MASTER_KEY"
    info "made the master key $LOCAL_MASTER_KEY"
  fi
  chmod 600 -- "$LOCAL_MASTER_KEY"
  # The subjects the services name each other by (their actor ids).
  for svc in "${LOCAL_SERVICES[@]}"; do
    mint "$svc" service "$SERVICE_TOKEN_TTL" "$(local_token_file "$svc")"
  done
  mint auditor-local auditor 8h "$(local_token_file auditor)"
}

# --- Commands ------------------------------------------------------------------

cmd_start() {
  local reset=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --reset) reset=1 ;;
      *) die "start: unknown argument '$1' (start [--reset])" ;;
    esac
    shift
  done
  require_binaries mend-case mend-consent mend-scheduling mend-conference mend-token mendctl
  command -v openssl >/dev/null || die "openssl is not installed (Debian: apt-get install openssl)"
  mkdir -p -- "$LOCAL_DIR"

  local svc
  if [[ "$reset" == 1 ]]; then
    local any=0
    for svc in "${LOCAL_SERVICES[@]}"; do
      if running_pid "$svc" >/dev/null; then any=1; fi
    done
    if [[ "$any" == 1 ]]; then
      info "--reset: stopping the running services first"
      stop_services "${LOCAL_SERVICES[@]}" ||
        die "--reset: a service did not stop cleanly; its data is left as it is"
    fi
    rm -rf -- "$LOCAL_DATA" "$LOCAL_LOGS" "$LOCAL_RUN"
    info "--reset: wiped $LOCAL_DATA and the logs (keys kept)"
  fi

  local to_start=() pid
  for svc in "${LOCAL_SERVICES[@]}"; do
    if pid="$(running_pid "$svc")"; then
      info "$svc already running (pid $pid): left as it is"
    else
      to_start+=("$svc")
    fi
  done
  # A taken port would be shared (gRPC binds with SO_REUSEPORT) or stop the
  # service half-started: refuse before starting anything.
  local port
  for svc in "${to_start[@]}"; do
    for port in "$(local_port "$svc")" "$(local_metrics_port "$svc")"; do
      if port_in_use "$port"; then
        die "port $port ($svc) is in use by another process; stop it, or set MEND_LOCAL_${svc^^}_PORT / MEND_LOCAL_${svc^^}_METRICS_PORT"
      fi
    done
  done
  ensure_keys

  # The case service follows scheduling and conference once its binary has
  # the flags for it.
  CASE_FOLLOWS=0
  local case_flags
  case_flags="$("$(bin mend-case)" --helpfull 2>&1 || true)"
  if grep -qe '--upstream_scheduling ' <<<"$case_flags" &&
    grep -qe '--upstream_conference ' <<<"$case_flags"; then
    CASE_FOLLOWS=1
  else
    echo "mend-local: warning: this mend-case has no --upstream_scheduling/--upstream_conference: the case will not follow scheduling and conference (no stages derived from them)" >&2
  fi

  # A training environment's allowance: attendance of a session may be
  # recorded this long before it starts, so the case study's twelve weekly
  # sessions run through in minutes (mend-scenario needs it).
  ATTENDANCE_BEFORE_START="${MEND_LOCAL_ATTENDANCE_BEFORE_START-2400h}"
  local scheduling_flags
  scheduling_flags="$("$(bin mend-scheduling)" --helpfull 2>&1 || true)"
  if [[ -n "$ATTENDANCE_BEFORE_START" ]] &&
    ! grep -qe '--attendance_before_start ' <<<"$scheduling_flags"; then
    echo "mend-local: warning: this mend-scheduling has no --attendance_before_start: attendance only once a session has started (the case study cannot run through)" >&2
    ATTENDANCE_BEFORE_START=""
  fi

  for svc in "${to_start[@]}"; do launch "$svc"; done
  if ! wait_serving "${LOCAL_SERVICES[@]}"; then
    # All or nothing: what this start launched does not stay half up.
    info "stopping what this start launched: ${to_start[*]}"
    stop_services "${to_start[@]}" || true
    die "start failed (above)"
  fi
  for svc in "${LOCAL_SERVICES[@]}"; do
    info "$svc SERVING on $(local_address "$svc") (pid $(running_pid "$svc"), metrics http://127.0.0.1:$(local_metrics_port "$svc")/metrics, log $(local_log_file "$svc"))"
  done
  info "state in $LOCAL_DIR; client certificate $LOCAL_TLS/client.pem, CA $LOCAL_TLS/ca.pem, auditor token $(local_token_file auditor)"
}

cmd_stop() {
  [[ $# -eq 0 ]] || die "stop takes no arguments"
  stop_services "${LOCAL_SERVICES[@]}"
}

# SIGTERM to each of the services $@ that runs, then waits for each to exit;
# fails if one did not exit 0 or had to be killed.
stop_services() {
  local svc pid status signalled=()
  for svc in "$@"; do
    if pid="$(running_pid "$svc")"; then
      kill -TERM "$pid" 2>/dev/null || true
      signalled+=("$svc:$pid")
    else
      status="$(exit_status "$svc")"
      info "$svc not running${status:+ (last exit status $status)}"
      rm -f -- "$(local_pid_file "$svc")"
    fi
  done
  # All drain at once; each gets the same deadline.
  local deadline=$((SECONDS + STOP_TIMEOUT)) failed=0 entry until_written
  for entry in "${signalled[@]}"; do
    svc="${entry%%:*}"
    pid="${entry#*:}"
    while [[ -d "/proc/$pid" ]] && ((SECONDS < deadline)); do sleep 0.05; done
    if [[ -d "/proc/$pid" ]]; then
      kill -KILL "$pid" 2>/dev/null || true
      echo "mend-local: $svc (pid $pid) did not exit within ${STOP_TIMEOUT}s of SIGTERM: killed" >&2
      failed=1
      continue
    fi
    # The wrapper writes the status a moment after the process is gone.
    until_written=$((SECONDS + 5))
    while [[ ! -f "$(local_exit_file "$svc")" ]] && ((SECONDS < until_written)); do
      sleep 0.05
    done
    status="$(exit_status "$svc")"
    rm -f -- "$(local_pid_file "$svc")"
    if [[ "$status" == 0 ]]; then
      info "$svc stopped (pid $pid, exit status 0)"
    else
      echo "mend-local: $svc (pid $pid) exited with status ${status:-unknown} after SIGTERM" >&2
      log_tail "$svc"
      failed=1
    fi
  done
  return "$failed"
}

# metric TEXT NAME LABELS: the value of the sample NAME{LABELS} in TEXT.
metric() {
  awk -v key="$2{$3}" '$1 == key { print $2; exit }' <<<"$1"
}

# The log head of SVC (EventLog.GetHead through `mendctl head`), "?" if it
# cannot be read.
head_position() {
  local out
  out="$("$(bin mendctl)" head "$1" "--address=$(local_address "$1")" \
    "${LOCAL_CLIENT_TLS[@]}" "--token_file=$(local_token_file auditor)" \
    --deadline=2s 2>/dev/null)" || {
    echo "?"
    return
  }
  # {"service":"case",...,"position":25,...}; protobuf's JSON would quote a
  # uint64 and leave out a 0.
  if [[ "$out" =~ \"position\"[[:space:]]*:[[:space:]]*\"?([0-9]+) ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo 0
  fi
}

cmd_status() {
  [[ $# -eq 0 ]] || die "status takes no arguments"
  require_binaries mendctl mend-token
  [[ -f "$LOCAL_TOKEN_KEYS/token-key.pem" ]] ||
    die "no keys in $LOCAL_KEYS yet: nothing was started here (scripts/mend-local.sh start)"
  mkdir -p -- "$LOCAL_TOKENS"
  mint auditor-local auditor 8h "$(local_token_file auditor)"
  local svc pid state status health_status head not_serving=0 metrics line up lag connected
  printf '%-11s %-8s %-22s %-12s %-6s %s\n' service pid process health head address
  for svc in "${LOCAL_SERVICES[@]}"; do
    if pid="$(running_pid "$svc")"; then
      state=running
      health_status="$(health "$svc")" || not_serving=1
      head="$(head_position "$svc")"
    else
      pid=-
      state="stopped"
      status="$(exit_status "$svc")"
      [[ -z "$status" ]] || state="stopped (exit $status)"
      health_status=-
      head=-
      not_serving=1
    fi
    printf '%-11s %-8s %-22s %-12s %-6s %s\n' "$svc" "$pid" "$state" "$health_status" \
      "$head" "$(local_address "$svc")"
    [[ "$state" == running ]] || continue
    # Followers: lag = the upstream's head as last heard minus the position
    # handled (mend_subscription_lag_events); connected: a message came on
    # the current stream (mend_subscription_connected), which an upstream
    # with nothing new to send since the follower connected has not sent.
    metrics="$(curl -fsS --max-time 2 "http://127.0.0.1:$(local_metrics_port "$svc")/metrics" 2>/dev/null)" || {
      echo "            (metrics endpoint 127.0.0.1:$(local_metrics_port "$svc") did not answer)"
      continue
    }
    while read -r line; do
      [[ "$line" =~ ^mend_subscription_lag_events\{service=\"[a-z]+\",upstream=\"([a-z]+)\"\}\ ([0-9.e+]+)$ ]] ||
        continue
      up="${BASH_REMATCH[1]}"
      lag="${BASH_REMATCH[2]}"
      connected="$(metric "$metrics" mend_subscription_connected "service=\"$svc\",upstream=\"$up\"")"
      printf '            follows %-11s lag %s event(s), %s\n' "$up" "${lag%.*}" \
        "$([[ "$connected" == 1 ]] && echo connected ||
          echo "not connected (or nothing sent since it connected)")"
    done <<<"$metrics"
  done
  return "$not_serving"
}

main() {
  local command="${1:-help}"
  [[ $# -eq 0 ]] || shift
  case "$command" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    help | -h | --help) usage ;;
    *)
      usage >&2
      die "unknown command '$command'"
      ;;
  esac
}

main "$@"
