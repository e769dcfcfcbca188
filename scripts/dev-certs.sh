#!/usr/bin/env bash
# Makes a local development CA and TLS certificates for mend, with the openssl
# binary only. NOT for production: the CA key sits next to the certificates.
#
#   scripts/dev-certs.sh [--force] [OUT_DIR]      (OUT_DIR defaults to ./dev-certs)
#
# Writes into OUT_DIR:
#   ca.pem, ca-key.pem                 the development CA (EC P-256, SHA-256)
#   <svc>.pem, <svc>-key.pem           for case, consent, scheduling, conference:
#                                      serverAuth + clientAuth (services call each
#                                      other), subjectAltName DNS:<svc>,
#                                      DNS:mend-<svc>,
#                                      DNS:mend-<svc>.mend.svc.cluster.local,
#                                      DNS:localhost, IP:127.0.0.1
#   client.pem, client-key.pem         clientAuth only, for tools and tests
#
# Private keys are mode 0600. Validity: CA 825 days, leaf certificates 397.
#
# Idempotent: an existing CA is kept, and so is an existing certificate that
# still verifies against the CA and does not expire within 30 days; anything
# missing, stale or not issued by the current CA is (re)issued. --force
# replaces the CA and every certificate.
#
# Use them with a service:   --tls_cert=OUT/case.pem --tls_key=OUT/case-key.pem
#                            --tls_ca=OUT/ca.pem
set -euo pipefail

readonly SERVICES=(case consent scheduling conference)
readonly CA_DAYS=825
readonly LEAF_DAYS=397
readonly RENEW_SECONDS=$((30 * 24 * 3600))

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
  echo "dev-certs: error: $*" >&2
  exit 1
}

info() {
  echo "dev-certs: $*"
}

# shellcheck source=lib/out-dir-args.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/out-dir-args.sh"
parse_out_dir_args "./dev-certs" "$@"
prepare_out_dir

# Scratch space for configuration files, CSRs and files being written; each
# output file is moved into place only when complete.
WORK="$(mktemp -d "$OUT_DIR/.dev-certs.XXXXXX")"
trap 'rm -rf -- "$WORK"' EXIT

# Runs openssl, showing its output only when it fails.
run_openssl() {
  local log="$WORK/openssl.log"
  if ! openssl "$@" >"$log" 2>&1; then
    cat "$log" >&2
    die "openssl $1 failed (output above)"
  fi
}

new_key() {  # new_key OUT: an EC P-256 private key, mode 0600 from the start
  (umask 077 && run_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$1")
  chmod 600 "$1"
}

serial() {  # a random positive 128-bit serial number
  echo "0x$(openssl rand -hex 16)"
}

# Whether certificate $1 carries the public key of private key $2.
key_matches_cert() {
  local cert_pub key_pub
  cert_pub="$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" || return 1
  key_pub="$(openssl pkey -in "$2" -pubout 2>/dev/null)" || return 1
  [[ -n "$cert_pub" && "$cert_pub" == "$key_pub" ]]
}

# Whether certificate $1 is still good for more than 30 days.
not_expiring() {
  openssl x509 -in "$1" -noout -checkend "$RENEW_SECONDS" >/dev/null 2>&1
}

# --- The CA ------------------------------------------------------------------

CA="$OUT_DIR/ca.pem"
CA_KEY="$OUT_DIR/ca-key.pem"
CA_CHANGED=0

make_ca() {
  cat >"$WORK/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca_ext
[dn]
O = mend development
CN = mend development CA
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  new_key "$WORK/ca-key.pem"
  run_openssl req -new -x509 -config "$WORK/ca.cnf" -key "$WORK/ca-key.pem" -sha256 \
    -days "$CA_DAYS" -set_serial "$(serial)" -out "$WORK/ca.pem"
  mv -f -- "$WORK/ca-key.pem" "$CA_KEY"
  chmod 644 "$WORK/ca.pem"
  mv -f -- "$WORK/ca.pem" "$CA"
  CA_CHANGED=1
  info "created development CA $CA (valid $CA_DAYS days)"
}

if [[ "$FORCE" -eq 1 ]]; then
  make_ca
elif [[ -e "$CA" && -e "$CA_KEY" ]]; then
  key_matches_cert "$CA" "$CA_KEY" ||
    die "$CA and $CA_KEY exist but do not belong together (or do not parse); fix or remove them, or re-run with --force to replace the CA and every certificate"
  not_expiring "$CA" ||
    die "the CA $CA expires within 30 days; re-run with --force to make a new CA and certificates"
  info "keeping existing CA $CA"
elif [[ -e "$CA" || -e "$CA_KEY" ]]; then
  die "only one of $CA and $CA_KEY exists; restore the other, or re-run with --force to replace the CA and every certificate"
else
  make_ca
fi

# --- Leaf certificates -------------------------------------------------------

# issue NAME EXTENDED_KEY_USAGE [SUBJECT_ALT_NAME]: writes NAME.pem and
# NAME-key.pem, unless a good pair from this CA is already there.
issue() {
  local name="$1" eku="$2" san="${3:-}"
  local cert="$OUT_DIR/$name.pem" key="$OUT_DIR/$name-key.pem"

  if [[ "$FORCE" -eq 0 && "$CA_CHANGED" -eq 0 && -e "$cert" && -e "$key" ]] &&
    openssl verify -CAfile "$CA" -purpose any "$cert" >/dev/null 2>&1 &&
    key_matches_cert "$cert" "$key" && not_expiring "$cert"; then
    chmod 600 "$key"
    info "keeping $name.pem"
    return
  fi

  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = $eku"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid:always"
    [[ -z "$san" ]] || echo "subjectAltName = $san"
  } >"$WORK/$name.ext"

  new_key "$WORK/$name-key.pem"
  run_openssl req -new -key "$WORK/$name-key.pem" -sha256 \
    -subj "/O=mend development/CN=$name" -out "$WORK/$name.csr"
  run_openssl x509 -req -in "$WORK/$name.csr" -CA "$CA" -CAkey "$CA_KEY" \
    -set_serial "$(serial)" -sha256 -days "$LEAF_DAYS" -extfile "$WORK/$name.ext" \
    -out "$WORK/$name.pem"
  run_openssl verify -CAfile "$CA" "$WORK/$name.pem"
  mv -f -- "$WORK/$name-key.pem" "$key"
  chmod 644 "$WORK/$name.pem"
  mv -f -- "$WORK/$name.pem" "$cert"
  info "issued $name.pem${san:+ for $san}"
}

for svc in "${SERVICES[@]}"; do
  issue "$svc" "serverAuth, clientAuth" \
    "DNS:$svc, DNS:mend-$svc, DNS:mend-$svc.mend.svc.cluster.local, DNS:localhost, IP:127.0.0.1"
done
issue client "clientAuth"

info "done: certificates in $OUT_DIR (development only; keep ca-key.pem private)"
