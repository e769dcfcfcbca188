#!/usr/bin/env bash
# check_includes.sh must catch what it claims to, and pass a clean tree:
# runs it on small trees in a temporary directory.
#   scripts/check_includes_test.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check="$here/check_includes.sh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir -p "$tmp/clean/services/a" "$tmp/clean/services/b"
printf '#include "services/a/a_state.h"\n#include "absl/time/time.h"\n' \
  >"$tmp/clean/services/a/a_state.cc"
printf '#include <string>\n' >"$tmp/clean/services/a/a_state.h"
printf '#include "services/b/b.h"\n#include "grpcpp/grpcpp.h"\n' >"$tmp/clean/services/b/b_service.cc"
printf 'services/a/a_state.cc\n' >"$tmp/clean/domain.txt"
if ! out="$(bash "$check" "$tmp/clean" "$tmp/clean/domain.txt")"; then
  fail "a clean tree fails: $out"
fi

cp -r "$tmp/clean" "$tmp/dirty"
printf '#include "services/b/b.h"\n' >>"$tmp/dirty/services/a/a_state.h"
printf '  #include <services/a/a_state.h>\n' >>"$tmp/dirty/services/b/b_service.cc"
for banned in 'grpcpp/grpcpp.h' 'rocksdb/db.h' 'absl/time/clock.h' 'common/runtime/uuid.h' \
  'common/security/key_store.h' 'common/eventlog/event_store.h'; do
  printf '#include "%s"\n' "$banned" >>"$tmp/dirty/services/a/a_state.cc"
done
if out="$(bash "$check" "$tmp/dirty" "$tmp/dirty/domain.txt" 2>&1)"; then
  fail "a tree with violations passes"
fi
for want in 'services/a/a_state.h:2: services/a/ includes services/b/' \
  'services/b/b_service.cc:3: services/b/ includes services/a/' \
  'a_state.cc:3: a domain source includes "grpcpp/grpcpp.h"' 'rocksdb/db.h' \
  'absl/time/clock.h' 'common/runtime/uuid.h' 'common/security/key_store.h' \
  'common/eventlog/event_store.h' '8 include boundary violation(s)'; do
  grep -qF -- "$want" <<<"$out" || fail "not reported: $want (got: $out)"
done
# A service's own includes and the non-domain files' gRPC are not violations.
if grep -qE 'a_state.cc:1:|b_service.cc:1:|b_service.cc:2:' <<<"$out"; then
  fail "reported an allowed include: $out"
fi
if bash "$check" "$tmp/none" "$tmp/clean/domain.txt" >/dev/null 2>&1; then
  fail "a missing root passes"
fi
((failures == 0)) && echo "check_includes.sh: all cases pass"
exit $((failures > 0))
