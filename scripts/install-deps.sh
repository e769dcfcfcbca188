#!/usr/bin/env bash
# Installs every Debian 12 package mend needs to build, test and run.
# Safe to run again; needs root (or sudo) and Debian's package registry.
#
#   scripts/install-deps.sh              everything (scripts/test.sh, CI)
#   scripts/install-deps.sh --main-job   only what scripts/run.sh builds and
#                                        runs: no test, benchmark, browser,
#                                        image or deployment-check packages
set -euo pipefail

MODE=all
case "${1:-}" in
  "") ;;
  --main-job) MODE=main-job ;;
  *) echo "install-deps: unknown option '$1' (--main-job, or nothing)" >&2; exit 2 ;;
esac

BUILD=(
  # toolchain
  g++ cmake ninja-build pkg-config make git
  # gRPC and protobuf
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # storage, base libraries, crypto, tokens, logs, metrics endpoint, JSON
  librocksdb-dev libabsl-dev libssl-dev openssl libjwt-dev
  libspdlog-dev libfmt-dev libcpp-httplib-dev nlohmann-json3-dev
)
RUNTIME=(
  # runtime basics a minimal image lacks
  tzdata ca-certificates procps
  # scripts/mend-local.sh status reads each service's metrics endpoint
  curl
)
TESTS=(
  # tests and benchmarks; clang-14 checks the thread-safety annotations and
  # clang-format the formatting (scripts/test.sh)
  libgtest-dev libgmock-dev libbenchmark-dev clang-14 clang-format
  # the audit report's browser test renders it headless (label "browser")
  chromium
  # the image test (label "image", deploy/docker/image_test.sh) builds and runs
  # the container image with no daemon, FROM a base made from Debian's packages
  buildah mmdebstrap
  # the deployment checks (label "deploy", deploy/CMakeLists.txt): promtool;
  # node and npm for the manifest validators; kubectl for kustomize.
  # kubernetes-client and Debian's npm only where no kubectl or npm is
  # installed: they conflict with those some machine images bring
  prometheus nodejs
  $(command -v kubectl >/dev/null || echo kubernetes-client)
  $(command -v npm >/dev/null || echo npm)
)
PACKAGES=("${BUILD[@]}" "${RUNTIME[@]}")
if [[ "$MODE" == all ]]; then PACKAGES+=("${TESTS[@]}"); fi

SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "install-deps: ${#PACKAGES[@]} packages present"
