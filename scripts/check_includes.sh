#!/usr/bin/env bash
# The include boundaries (DESIGN, "Services" and "Layout"):
#   1. No file under services/<a>/ includes one under services/<b>/: services
#      share protos, never code.
#   2. A domain source — a file of a *_domain library, and the header of the
#      same name beside it — includes no gRPC, RocksDB, clock, runtime,
#      security or event store header: domain logic is plain C++ (STYLE 7).
#
#   scripts/check_includes.sh ROOT DOMAIN_SOURCES
# ROOT is the source tree; DOMAIN_SOURCES lists the domain libraries' sources
# one a line, relative to ROOT (the build writes it: tests/CMakeLists.txt).
# Prints every violation as "file:line: why" and exits 1 if there is one;
# exits 2 on bad arguments. Nothing is allow-listed.
set -euo pipefail

if [[ $# -ne 2 || ! -d "$1" || ! -f "$2" ]]; then
  echo "usage: $0 ROOT DOMAIN_SOURCES" >&2
  exit 2
fi
root="$1"
domain_sources="$2"
violations=0

report() {  # file line why
  echo "$1:$2: $3"
  violations=$((violations + 1))
}

# 1. Cross-service includes.
if [[ -d "$root/services" ]]; then
  while IFS= read -r -d '' file; do
    rel="${file#"$root"/}"
    service="${rel#services/}"
    service="${service%%/*}"
    while IFS=: read -r line text; do
      target="$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]services\/([^/]+)\/.*/\1/' <<<"$text")"
      if [[ "$target" != "$service" ]]; then
        report "$rel" "$line" "services/$service/ includes services/$target/ (${text#*include })"
      fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]services/' "$file" || true)
  done < <(find "$root/services" -type f \( -name '*.h' -o -name '*.cc' -o -name '*.cpp' \) -print0 | sort -z)
fi

# 2. What domain sources may not include.
forbidden='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](grpcpp/|grpc/|rocksdb/|absl/time/clock\.h|common/runtime/|common/security/|common/eventlog/event_store\.h)'
declare -A seen=()
while IFS= read -r source || [[ -n "$source" ]]; do
  [[ -z "$source" ]] && continue
  for file in "$source" "${source%.*}.h"; do
    [[ -f "$root/$file" && -z "${seen[$file]:-}" ]] || continue
    seen[$file]=1
    while IFS=: read -r line text; do
      report "$file" "$line" "a domain source includes ${text#*include }"
    done < <(grep -nE "$forbidden" "$root/$file" || true)
  done
done <"$domain_sources"

if ((${#seen[@]} == 0)); then
  echo "no domain source found in $domain_sources" >&2
  exit 1
fi
if ((violations > 0)); then
  echo "$violations include boundary violation(s)" >&2
  exit 1
fi
echo "include boundaries hold (${#seen[@]} domain files checked)"
