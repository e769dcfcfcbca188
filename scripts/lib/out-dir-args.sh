# Shared by the development key scripts (dev-certs.sh, dev-token-key.sh):
# parses "[--force] [--help] [OUT_DIR]" and prepares OUT_DIR.
# The caller defines usage() and die() before calling these.

# parse_out_dir_args DEFAULT_DIR "$@": sets FORCE (0/1) and OUT_DIR.
parse_out_dir_args() {
  local default_dir="$1"
  shift
  FORCE=0
  OUT_DIR=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --force) FORCE=1 ;;
      -h | --help)
        usage
        exit 0
        ;;
      --) shift; [[ $# -gt 0 ]] && { OUT_DIR="$1"; shift; }; break ;;
      -*) die "unknown option '$1' (try --help)" ;;
      *)
        [[ -z "$OUT_DIR" ]] || die "more than one output directory given ('$OUT_DIR', '$1')"
        OUT_DIR="$1"
        ;;
    esac
    shift
  done
  [[ $# -eq 0 ]] || die "unexpected arguments after the output directory: $*"
  OUT_DIR="${OUT_DIR:-$default_dir}"
}

# prepare_out_dir: checks for openssl, creates OUT_DIR and makes it absolute.
prepare_out_dir() {
  command -v openssl >/dev/null 2>&1 ||
    die "the openssl binary is not installed (Debian: apt-get install openssl)"
  mkdir -p -- "$OUT_DIR" || die "cannot create output directory '$OUT_DIR'"
  [[ -d "$OUT_DIR" && -w "$OUT_DIR" ]] || die "'$OUT_DIR' is not a writable directory"
  OUT_DIR="$(cd -- "$OUT_DIR" && pwd)"
}
