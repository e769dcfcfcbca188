# shellcheck shell=bash disable=SC2034  # variables for the scripts that source it
# Where the local services live (scripts/mend-local.sh) and how to reach them:
# shared by mend-local.sh, scripts/run.sh and tests/e2e/mend_local_test.sh, so
# each names a path or a port in one place. Source it with ROOT set to the
# checkout; it defines variables and functions only.
#
#   MEND_LOCAL_DIR   the state directory (default $ROOT/.mend-local):
#     keys/tls/        development CA and certificates (scripts/dev-certs.sh);
#                      client.pem / client-key.pem are the tools' certificate
#     keys/token/      token-key.pem (signs tokens), token-pub.pem (services verify)
#     keys/tree/<svc>/ tree-key.pem, tree-pub.pem: each service's tree-head key
#     keys/master.key  the master key wrapping per-person data keys (0600)
#     keys/tokens/     <svc>.token: the service's own token (role service);
#                      auditor.token: the token status and the audit use
#     data/<svc>/      the service's --data_dir (its log: data/<svc>/eventlog)
#     logs/<svc>.log   its JSON log lines (stderr)
#     run/<svc>.pid    its process id while it runs; run/<svc>.exit its exit status
#   MEND_BIN         the directory holding the binaries (default
#                    ${MEND_PREFIX:-$ROOT/out}/bin, where scripts/run.sh installs)
#   MEND_LOCAL_<SVC>_PORT, MEND_LOCAL_<SVC>_METRICS_PORT
#                    gRPC and metrics ports (case 7001/9101, consent 7002/9102,
#                    scheduling 7003/9103, conference 7004/9104)
#
# The variables are MEND_LOCAL_*, never MEND_<flag>: the services read every
# MEND_<FLAG> variable as a flag.

LOCAL_SERVICES=(case consent scheduling conference)

LOCAL_DIR="${MEND_LOCAL_DIR:-$ROOT/.mend-local}"
LOCAL_BIN="${MEND_BIN:-${MEND_PREFIX:-$ROOT/out}/bin}"
# Absolute: the services and tools are given these paths as flags.
[[ "$LOCAL_DIR" == /* ]] || LOCAL_DIR="$PWD/$LOCAL_DIR"
[[ "$LOCAL_BIN" == /* ]] || LOCAL_BIN="$PWD/$LOCAL_BIN"
LOCAL_KEYS="$LOCAL_DIR/keys"
LOCAL_TLS="$LOCAL_KEYS/tls"
LOCAL_TOKEN_KEYS="$LOCAL_KEYS/token"
LOCAL_TOKENS="$LOCAL_KEYS/tokens"
LOCAL_MASTER_KEY="$LOCAL_KEYS/master.key"
LOCAL_DATA="$LOCAL_DIR/data"
LOCAL_LOGS="$LOCAL_DIR/logs"
LOCAL_RUN="$LOCAL_DIR/run"

# local_default_port SVC: the fixed port of a service (7001..7004).
local_default_port() {
  case "$1" in
    case) echo 7001 ;;
    consent) echo 7002 ;;
    scheduling) echo 7003 ;;
    conference) echo 7004 ;;
    *) return 1 ;;
  esac
}

# local_port SVC / local_metrics_port SVC: the ports in use, after the
# MEND_LOCAL_<SVC>_PORT / MEND_LOCAL_<SVC>_METRICS_PORT overrides.
local_port() {
  local var="MEND_LOCAL_${1^^}_PORT"
  echo "${!var:-$(local_default_port "$1")}"
}
local_metrics_port() {
  local var="MEND_LOCAL_${1^^}_METRICS_PORT"
  echo "${!var:-$(($(local_default_port "$1") + 2100))}"
}

local_address() { echo "127.0.0.1:$(local_port "$1")"; }
local_data_dir() { echo "$LOCAL_DATA/$1"; }
local_log_dir() { echo "$LOCAL_DATA/$1/eventlog"; }  # what mend-audit --log takes
local_log_file() { echo "$LOCAL_LOGS/$1.log"; }
local_pid_file() { echo "$LOCAL_RUN/$1.pid"; }
local_exit_file() { echo "$LOCAL_RUN/$1.exit"; }
local_token_file() { echo "$LOCAL_TOKENS/$1.token"; }
local_tree_key() { echo "$LOCAL_KEYS/tree/$1/tree-key.pem"; }
local_tree_public_key() { echo "$LOCAL_KEYS/tree/$1/tree-pub.pem"; }

# The gRPC service a service's health is asked for: another server on the
# port answers SERVICE_UNKNOWN for it rather than SERVING.
local_grpc_service() {
  case "$1" in
    case) echo mend.case.v1.CaseService ;;
    consent) echo mend.consent.v1.ConsentService ;;
    scheduling) echo mend.scheduling.v1.SchedulingService ;;
    conference) echo mend.conference.v1.ConferenceService ;;
    *) return 1 ;;
  esac
}

# The client side of mutual TLS, for mendctl, mend-audit and mend-scenario.
LOCAL_CLIENT_TLS=("--tls_ca=$LOCAL_TLS/ca.pem" "--tls_cert=$LOCAL_TLS/client.pem"
  "--tls_key=$LOCAL_TLS/client-key.pem")
