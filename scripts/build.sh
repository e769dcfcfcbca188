#!/usr/bin/env bash
# Configures and builds mend into a build directory.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
# BUILD_DIR defaults to build/. Uses Ninja and every core.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-$ROOT/build}"
shift || true
JOBS="${MEND_JOBS:-$(nproc)}"

cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_INSTALL_PREFIX="${MEND_PREFIX:-$ROOT/out}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
