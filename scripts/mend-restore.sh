#!/usr/bin/env bash
# Puts a backup of a service's event log back (Admin.CreateBackup made it;
# README, "Backup and restore"). The service must be stopped.
#
#   mend-restore.sh [--replace] [--audit PATH] BACKUP DATA_DIR
#
#   BACKUP    a backup directory: <backup_dir>/<name>, holding backup.json
#             and eventlog/ (ListBackups names them)
#   DATA_DIR  the service's --data_dir: the log goes back to DATA_DIR/eventlog
#   --replace DATA_DIR/eventlog exists: move it aside to
#             DATA_DIR/eventlog.replaced-<UTC time> (never deleted) and
#             restore in its place. Without it an existing log is refused.
#   --audit   the mend-audit binary (default: $MEND_AUDIT, then mend-audit
#             beside this script, then on PATH)
#
# What it does, stopping at the first thing wrong:
#   1. the backup is complete (its backup.json, a RocksDB directory);
#   2. no process has DATA_DIR/eventlog open (the service is stopped);
#   3. `mend-audit verify` proves the backup -- hash chain, positions,
#      streams, indexes, the stored tree, every payload -- and it holds the
#      head backup.json names;
#   4. copies it to DATA_DIR/eventlog.restoring (real copies, not links into
#      the backup), syncs, and renames it to DATA_DIR/eventlog;
#   5. verifies the restored log the same way and prints its head.
# Exit codes: 0 restored; 1 the backup or the restored log failed a check;
# 2 usage, a running service, an existing log without --replace, I/O.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "mend-restore: $*" >&2; exit "${EXIT:-2}"; }

REPLACE=0
AUDIT="${MEND_AUDIT:-}"
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --replace) REPLACE=1; shift ;;
    --audit) [[ $# -ge 2 ]] || usage; AUDIT="$2"; shift 2 ;;
    --audit=*) AUDIT="${1#--audit=}"; shift ;;
    -h|--help) usage ;;
    --*) echo "mend-restore: unknown option $1" >&2; usage ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[[ ${#ARGS[@]} -eq 2 ]] || usage
BACKUP="$(realpath -m "${ARGS[0]}")"
DATA_DIR="$(realpath -m "${ARGS[1]}")"
TARGET="$DATA_DIR/eventlog"

if [[ -z "$AUDIT" ]]; then
  HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  if [[ -x "$HERE/mend-audit" ]]; then AUDIT="$HERE/mend-audit"
  else AUDIT="$(command -v mend-audit || true)"; fi
fi
[[ -n "$AUDIT" && -x "$AUDIT" ]] || die "mend-audit not found: give --audit PATH or MEND_AUDIT"

# 1. A complete backup.
[[ -f "$BACKUP/backup.json" ]] || die "$BACKUP is not a backup: no backup.json"
[[ -f "$BACKUP/eventlog/CURRENT" ]] || die "$BACKUP is not a backup: no eventlog/CURRENT"
# The head it holds, from its description ("head_position": "1234").
HEAD="$(sed -n 's/.*"head_position": *"\{0,1\}\([0-9]*\)"\{0,1\}.*/\1/p' "$BACKUP/backup.json")"
HEAD="${HEAD:-0}"  # proto3 JSON leaves out a zero (an empty log)
SERVICE="$(sed -n 's/.*"service": *"\([^"]*\)".*/\1/p' "$BACKUP/backup.json")"

# 2. Nothing has the log open: a running service holds its LOCK file.
if [[ -e "$TARGET" ]]; then
  for fd in /proc/[0-9]*/fd/*; do
    link="$(readlink "$fd" 2>/dev/null)" || continue
    if [[ "$link" == "$TARGET/"* ]]; then
      pid="${fd#/proc/}"; pid="${pid%%/*}"
      die "$TARGET is open by process $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)): stop the service first"
    fi
  done
  if [[ "$REPLACE" != 1 ]]; then
    die "$TARGET exists: give --replace to move it aside and restore in its place"
  fi
fi

# Verifies the log in $1 with mend-audit and checks it ends at $HEAD.
verify() {
  local out rc=0
  out="$("$AUDIT" verify --log "$1" 2>&1)" || rc=$?
  echo "$out"
  if [[ $rc -ne 0 ]]; then EXIT=$(( rc == 1 ? 1 : 2 )) die "$1 does not verify (mend-audit exit $rc)"; fi
  local records
  records="$(echo "$out" | sed -n 's/^verify [^:]*: \([0-9]*\) records.*/\1/p' | head -n 1)"
  [[ "$records" == "$HEAD" ]] ||
    EXIT=1 die "$1 holds ${records:-no} records; backup.json names head $HEAD"
}

# 3. The backup proves, and holds its head.
echo "mend-restore: verifying backup $BACKUP (${SERVICE:-unknown service}, head $HEAD)"
verify "$BACKUP/eventlog"

# 4. Copy, sync, rename into place.
mkdir -p "$DATA_DIR"
STAGING="$DATA_DIR/eventlog.restoring"
rm -rf "$STAGING"
cp -r --preserve=mode,timestamps "$BACKUP/eventlog" "$STAGING"
sync -f "$STAGING" 2>/dev/null || sync
if [[ -e "$TARGET" ]]; then
  ASIDE="$TARGET.replaced-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$TARGET" "$ASIDE"
  echo "mend-restore: the log that was there is kept at $ASIDE"
fi
mv "$STAGING" "$TARGET"
sync -f "$DATA_DIR" 2>/dev/null || sync

# 5. The restored log proves too.
verify "$TARGET"
echo "mend-restore: restored ${SERVICE:-the} log to $TARGET at head $HEAD; start the service"
