#!/usr/bin/env bash
# Renders every overlay of deploy/k8s with `kubectl kustomize` into OUT_DIR
# (<overlay>.yaml, for the other deploy checks) and asserts that each render
# succeeds with every kind mend deploys; then that an overlay with a missing
# base (fixtures/render/missing-base) is refused.
#
#   render.sh KUBECTL K8S_DIR OUT_DIR
set -euo pipefail

kubectl="$1"
k8s="$2"
out="$3"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$out"
"$kubectl" version --client 2>/dev/null | head -2 || true

failed=0
overlays=()
for dir in "$k8s"/overlays/*/; do
  overlays+=("$(basename "$dir")")
done
if [[ ${#overlays[@]} -eq 0 ]]; then
  echo "FAIL: no overlays under $k8s/overlays"
  exit 1
fi
for overlay in "${overlays[@]}"; do
  target="$out/$overlay.yaml"
  # Newer kubectls warn (on stderr) that bases/patchesStrategicMerge are
  # deprecated; that is the price of rendering with kubectl 1.20 too.
  if ! "$kubectl" kustomize "$k8s/overlays/$overlay" >"$target.tmp" 2>"$out/$overlay.stderr"; then
    echo "FAIL: kubectl kustomize $overlay:"
    cat "$out/$overlay.stderr"
    failed=1
    continue
  fi
  mv "$target.tmp" "$target"
  for kind in StatefulSet Service ConfigMap NetworkPolicy PodDisruptionBudget CronJob; do
    if ! grep -q "^kind: $kind\$" "$target"; then
      echo "FAIL: $overlay renders no $kind"
      failed=1
    fi
  done
  echo "ok: $overlay: $(grep -c '^kind:' "$target") objects in $target"
done

if "$kubectl" kustomize "$here/fixtures/render/missing-base" >/dev/null 2>"$out/missing-base.stderr"; then
  echo "FAIL: an overlay with a missing base rendered"
  failed=1
else
  echo "ok: refused an overlay with a missing base: $(grep -v Warning "$out/missing-base.stderr" | head -1 | cut -c1-120)"
fi
exit "$failed"
