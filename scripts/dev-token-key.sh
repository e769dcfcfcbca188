#!/usr/bin/env bash
# Makes the development token signing key pair (EC P-256, for ES256 bearer
# tokens) with the openssl binary only. NOT for production.
#
#   scripts/dev-token-key.sh [--force] [OUT_DIR]     (OUT_DIR defaults to ./dev-keys)
#
# Writes into OUT_DIR:
#   token-key.pem   the private key, PKCS#8 PEM, mode 0600: mint tokens with
#                   mend-token --key=OUT_DIR/token-key.pem --subject=... --role=...
#   token-pub.pem   the public key (SubjectPublicKeyInfo PEM): services verify
#                   tokens with --token_public_key=OUT_DIR/token-pub.pem
#
# Idempotent: an existing pair whose halves match is kept; --force replaces it.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
  echo "dev-token-key: error: $*" >&2
  exit 1
}

# shellcheck source=lib/out-dir-args.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/out-dir-args.sh"
parse_out_dir_args "./dev-keys" "$@"
prepare_out_dir
PRIVATE="$OUT_DIR/token-key.pem"
PUBLIC="$OUT_DIR/token-pub.pem"

# Keep a matching existing pair.
if [[ "$FORCE" != 1 && -f "$PRIVATE" && -f "$PUBLIC" ]]; then
  if derived="$(openssl pkey -in "$PRIVATE" -pubout 2>/dev/null)" &&
    [[ "$derived" == "$(cat -- "$PUBLIC")" ]]; then
    chmod 600 -- "$PRIVATE"
    echo "dev-token-key: keeping the existing key pair in $OUT_DIR (--force replaces it)"
    exit 0
  fi
  echo "dev-token-key: existing files in $OUT_DIR do not form a key pair; replacing them"
fi

# Files are written in a private scratch directory and moved into place whole.
umask 077
WORK="$(mktemp -d "$OUT_DIR/.dev-token-key.XXXXXX")"
trap 'rm -rf -- "$WORK"' EXIT

run_openssl() {
  local out
  if ! out="$(openssl "$@" 2>&1)"; then
    echo "$out" >&2
    die "openssl $1 failed"
  fi
}

run_openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/ec.pem"
run_openssl pkcs8 -topk8 -nocrypt -in "$WORK/ec.pem" -out "$WORK/token-key.pem"
run_openssl pkey -in "$WORK/token-key.pem" -pubout -out "$WORK/token-pub.pem"
chmod 600 "$WORK/token-key.pem"
chmod 644 "$WORK/token-pub.pem"
mv -f -- "$WORK/token-key.pem" "$PRIVATE"
mv -f -- "$WORK/token-pub.pem" "$PUBLIC"

echo "dev-token-key: wrote $PRIVATE (private, 0600) and $PUBLIC"
echo "dev-token-key: mint a token with: mend-token --key=$PRIVATE --subject=alice --role=auditor"
