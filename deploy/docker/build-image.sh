#!/usr/bin/env bash
# Builds the mend image (deploy/docker/Dockerfile) with Docker, Podman or
# buildah: no daemon needed with buildah, and no registry with --base local.
#
#   deploy/docker/build-image.sh [--tool docker|podman|buildah] [--base IMAGE|local]
#                                [--binaries FILE_OR_DIR]... [--tag TAG]
#                                [--storage DIR] [--cache-dir DIR] [-- TOOL_BUILD_ARGS...]
#
#   --tool      docker, podman or buildah (default: docker if its daemon answers,
#               else podman, else buildah). buildah builds with --isolation
#               chroot (or $BUILDAH_ISOLATION); on a machine without overlayfs
#               set STORAGE_DRIVER=vfs, or use --storage.
#   --base      the Debian 12 image both stages start FROM (default
#               debian:12-slim, pulled as the tool pulls). "local": a base made
#               here from Debian's packages (mmdebstrap --variant=minbase,
#               bookworm with its updates and security suites; needs root and
#               Debian's package registry), its tarball cached in --cache-dir
#               for 7 days, imported into the tool's storage and used with no pull.
#   --binaries  build the runtime stage from prebuilt binaries (a file, or every
#               executable file in a directory such as `cmake --install`'s
#               PREFIX/bin; repeatable) instead of the CMake build inside the
#               image (~10 min on 2 cores). They are stripped on the way in.
#               They must be built on Debian 12 against its packages.
#   --tag       the image's name (default mend:dev)
#   --storage   buildah or podman only: a storage of its own in DIR (vfs driver,
#               --root DIR/root, --runroot DIR/run) instead of the tool's default
#   --cache-dir where --base local keeps its tarball (default
#               $MEND_IMAGE_CACHE, else /var/tmp/mend-image-cache)
#   after --     passed to the tool's build command as they are
#
# Prints the built image's name as its last line. Exit status: 0 when built;
# 2 for a bad argument; otherwise the failing step's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOCKERFILE="$ROOT/deploy/docker/Dockerfile"

TOOL=""
BASE="debian:12-slim"
BINARIES=()
TAG="mend:dev"
STORAGE=""
CACHE_DIR="${MEND_IMAGE_CACHE:-/var/tmp/mend-image-cache}"
EXTRA=()

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || { echo "build-image: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tool) need_value "$@"; TOOL="$2"; shift 2 ;;
    --base) need_value "$@"; BASE="$2"; shift 2 ;;
    --binaries) need_value "$@"; BINARIES+=("$2"); shift 2 ;;
    --tag) need_value "$@"; TAG="$2"; shift 2 ;;
    --storage) need_value "$@"; STORAGE="$2"; shift 2 ;;
    --cache-dir) need_value "$@"; CACHE_DIR="$2"; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) usage ;;
    *) echo "build-image: unknown argument $1" >&2; usage ;;
  esac
done

if [[ -z "$TOOL" ]]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then TOOL=docker
  elif command -v podman >/dev/null; then TOOL=podman
  elif command -v buildah >/dev/null; then TOOL=buildah
  else echo "build-image: none of docker (with a daemon), podman, buildah found" >&2; exit 2
  fi
fi
case "$TOOL" in
  docker|podman|buildah) command -v "$TOOL" >/dev/null ||
    { echo "build-image: $TOOL is not installed" >&2; exit 2; } ;;
  *) echo "build-image: --tool must be docker, podman or buildah" >&2; exit 2 ;;
esac
TOOL_CMD=("$TOOL")
if [[ -n "$STORAGE" ]]; then
  [[ "$TOOL" != docker ]] || { echo "build-image: --storage is for podman or buildah" >&2; exit 2; }
  mkdir -p "$STORAGE/root" "$STORAGE/run"
  TOOL_CMD+=(--root "$STORAGE/root" --runroot "$STORAGE/run" --storage-driver vfs)
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mend-build-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

image_exists() {
  case "$TOOL" in
    docker) docker image inspect "$1" >/dev/null 2>&1 ;;
    podman) "${TOOL_CMD[@]}" image exists "$1" ;;
    buildah) "${TOOL_CMD[@]}" inspect --type image "$1" >/dev/null 2>&1 ;;
  esac
}

# --- --base local: Debian 12 from Debian's packages, trimmed as debian:12-slim
# is (no manuals, documentation but copyrights, or translations; dpkg keeps
# trimming what the runtime stage installs), merged /usr without the usrmerge
# package (which would pull in perl).
MIRROR_DEBIAN="${MEND_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
MIRROR_SECURITY="${MEND_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
MMDEBSTRAP_ARGS=(
  --variant=minbase --mode=root --format=tar
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt=force-unsafe-io
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --aptopt='Acquire::Languages "none"'
  bookworm
)
MMDEBSTRAP_SOURCES=(
  "deb $MIRROR_DEBIAN bookworm main"
  "deb $MIRROR_DEBIAN bookworm-updates main"
  "deb $MIRROR_SECURITY bookworm-security main"
)

make_local_base() {
  # The cache key names every input, so a changed recipe makes a new base.
  local key tarball tag
  key="$(printf '%s\n' "${MMDEBSTRAP_ARGS[@]}" "${MMDEBSTRAP_SOURCES[@]}" | sha256sum | cut -c1-12)"
  tarball="$CACHE_DIR/debian12-minbase-$key.tar"
  tag="localhost/mend-debian12-base:$key"
  if [[ ! -s "$tarball" || -n "$(find "$tarball" -mtime +6 2>/dev/null)" ]]; then
    command -v mmdebstrap >/dev/null ||
      { echo "build-image: --base local needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 2; }
    [[ "$(id -u)" == 0 ]] || { echo "build-image: --base local needs root" >&2; exit 2; }
    mkdir -p "$CACHE_DIR"
    echo "build-image: making the Debian 12 base ($tarball)" >&2
    local partial="$tarball.$$.partial"
    if ! mmdebstrap --quiet "${MMDEBSTRAP_ARGS[@]}" "$partial" "${MMDEBSTRAP_SOURCES[@]}" \
        >"$WORK/mmdebstrap.log" 2>&1; then
      tail -n 30 "$WORK/mmdebstrap.log" >&2
      rm -f "$partial"
      echo "build-image: mmdebstrap failed" >&2
      exit 1
    fi
    mv -f "$partial" "$tarball"   # atomic: a concurrent run sees all or nothing
    # A new tarball replaces what a storage imported from an older one.
    if image_exists "$tag"; then "${TOOL_CMD[@]}" rmi -f "$tag" >/dev/null || true; fi
  fi
  if ! image_exists "$tag"; then
    echo "build-image: importing the base as $tag" >&2
    local changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
                   --change 'CMD ["bash"]')
    case "$TOOL" in
      docker|podman) "${TOOL_CMD[@]}" import "${changes[@]}" "$tarball" "$tag" >/dev/null ;;
      buildah)
        local ctr
        ctr="$("${TOOL_CMD[@]}" from scratch)"
        "${TOOL_CMD[@]}" add "$ctr" "$tarball" / >/dev/null
        "${TOOL_CMD[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
          --cmd bash "$ctr"
        "${TOOL_CMD[@]}" commit --quiet --rm "$ctr" "$tag" >/dev/null ;;
    esac
  fi
  BASE="$tag"
}

BUILD_ARGS=()
if [[ "$BASE" == local ]]; then
  make_local_base
  case "$TOOL" in
    podman|buildah) BUILD_ARGS+=(--pull=never) ;;  # docker uses a local image as it is
  esac
fi

# --- The context: the repository (from source, .dockerignore applies), or a
# directory holding only the prebuilt binaries in prebuilt/.
CONTEXT="$ROOT"
SOURCE=from-source
if [[ ${#BINARIES[@]} -gt 0 ]]; then
  SOURCE=from-context
  CONTEXT="$WORK/context"
  mkdir -p "$CONTEXT/prebuilt"
  for item in "${BINARIES[@]}"; do
    if [[ -d "$item" ]]; then
      while IFS= read -r -d '' f; do cp -L "$f" "$CONTEXT/prebuilt/"; done \
        < <(find "$item" -maxdepth 1 \( -type f -o -type l \) -perm -u+x -print0)
    elif [[ -f "$item" && -x "$item" ]]; then
      # A script goes in without its .sh, as cmake --install names it.
      cp -L "$item" "$CONTEXT/prebuilt/$(basename "${item%.sh}")"
    else
      echo "build-image: --binaries $item: not an executable file or a directory" >&2; exit 2
    fi
  done
  [[ -n "$(ls -A "$CONTEXT/prebuilt")" ]] ||
    { echo "build-image: --binaries: no executable files found" >&2; exit 2; }
  if command -v strip >/dev/null; then
    for f in "$CONTEXT/prebuilt/"*; do
      [[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" != '177ELF' ]] || strip "$f"
    done
  fi
  chmod 0755 "$CONTEXT/prebuilt/"*
fi

BUILD_ARGS+=(--build-arg "BASE=$BASE" --build-arg "BINARIES=$SOURCE" -f "$DOCKERFILE" -t "$TAG")
case "$TOOL" in
  docker) docker build "${BUILD_ARGS[@]}" "${EXTRA[@]}" "$CONTEXT" ;;
  podman) "${TOOL_CMD[@]}" build "${BUILD_ARGS[@]}" "${EXTRA[@]}" "$CONTEXT" ;;
  buildah) "${TOOL_CMD[@]}" bud --isolation "${BUILDAH_ISOLATION:-chroot}" \
             "${BUILD_ARGS[@]}" "${EXTRA[@]}" "$CONTEXT" ;;
esac >&2
echo "$TAG"
