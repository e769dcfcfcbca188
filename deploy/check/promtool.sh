#!/usr/bin/env bash
# `promtool check rules` / `promtool test rules` on mend's alerts, and the
# same on a fixture each must refuse (so a pass means something).
#
#   promtool.sh check RULES BAD_RULES
#   promtool.sh test TESTS BAD_TESTS
set -euo pipefail
mode="$1"
good="$2"
bad="$3"
promtool --version 2>&1 | head -1
failed=0
if promtool "$mode" rules "$good"; then
  echo "ok: promtool $mode rules $good"
else
  echo "FAIL: promtool $mode rules $good"
  failed=1
fi
if out="$(promtool "$mode" rules "$bad" 2>&1)"; then
  echo "FAIL: promtool $mode rules accepted $bad:"
  echo "$out"
  failed=1
else
  echo "ok: promtool $mode rules refused $bad: $(echo "$out" | grep -m1 -E 'parse error|alertname:' | sed 's/^ *//')"
fi
exit "$failed"
