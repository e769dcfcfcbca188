#!/usr/bin/env bash
# Makes the development tree-head signing key pair (Ed25519, for signed tree
# heads of the event logs) with the openssl binary only. NOT for production.
#
#   scripts/dev-tree-key.sh [--force] [OUT_DIR]      (OUT_DIR defaults to ./dev-keys)
#
# Writes into OUT_DIR:
#   tree-key.pem    the private key, PKCS#8 PEM, mode 0600: services sign their
#                   tree heads with --tree_head_key=OUT_DIR/tree-key.pem
#   tree-pub.pem    the public key (SubjectPublicKeyInfo PEM): what auditors
#                   check signed tree heads with
#
# Idempotent: an existing pair whose halves match is kept; --force replaces it.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
  echo "dev-tree-key: error: $*" >&2
  exit 1
}

# shellcheck source=lib/out-dir-args.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/out-dir-args.sh"
parse_out_dir_args "./dev-keys" "$@"
prepare_out_dir
PRIVATE="$OUT_DIR/tree-key.pem"
PUBLIC="$OUT_DIR/tree-pub.pem"

# Keep a matching existing pair (an Ed25519 one: not, say, a stray EC key).
if [[ "$FORCE" != 1 && -f "$PRIVATE" && -f "$PUBLIC" ]]; then
  if text="$(openssl pkey -in "$PRIVATE" -noout -text 2>/dev/null)" &&
    [[ "$text" == "ED25519 Private-Key:"* ]] &&
    derived="$(openssl pkey -in "$PRIVATE" -pubout 2>/dev/null)" &&
    [[ "$derived" == "$(cat -- "$PUBLIC")" ]]; then
    chmod 600 -- "$PRIVATE"
    echo "dev-tree-key: keeping the existing key pair in $OUT_DIR (--force replaces it)"
    exit 0
  fi
  echo "dev-tree-key: existing files in $OUT_DIR do not form an Ed25519 key pair; replacing them"
fi

# Files are written in a private scratch directory and moved into place whole.
umask 077
WORK="$(mktemp -d "$OUT_DIR/.dev-tree-key.XXXXXX")"
trap 'rm -rf -- "$WORK"' EXIT

run_openssl() {
  local out
  if ! out="$(openssl "$@" 2>&1)"; then
    echo "$out" >&2
    die "openssl $1 failed"
  fi
}

# genpkey writes PKCS#8 already (no separate pkcs8 step as for EC keys).
run_openssl genpkey -algorithm ed25519 -out "$WORK/tree-key.pem"
run_openssl pkey -in "$WORK/tree-key.pem" -pubout -out "$WORK/tree-pub.pem"
chmod 600 "$WORK/tree-key.pem"
chmod 644 "$WORK/tree-pub.pem"
mv -f -- "$WORK/tree-key.pem" "$PRIVATE"
mv -f -- "$WORK/tree-pub.pem" "$PUBLIC"

echo "dev-tree-key: wrote $PRIVATE (private, 0600) and $PUBLIC"
echo "dev-tree-key: sign tree heads with: --tree_head_key=$PRIVATE"
