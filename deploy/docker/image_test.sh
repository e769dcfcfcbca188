#!/usr/bin/env bash
# The image tests (ctest label "image"; deploy/docker/CMakeLists.txt runs them
# with this build tree's binaries):
#
#   image_test.sh [--packages-only] --health-wait PATH -- BINARY...
#
# Packages (always; seconds): the Dockerfile's runtime package list is exactly
# the packages owning the shared libraries the binaries name (ELF NEEDED,
# resolved as the host's loader does, then dpkg -S), less those every Debian
# 12 base has (libc6, libgcc-s1, libstdc++6). A library a binary gains fails
# it ("missing"), and so does a package no binary needs ("not needed").
#
# Image (unless --packages-only; needs root, buildah, mmdebstrap and Debian's
# package registry): deploy/docker/build-image.sh builds the image with
# buildah (--isolation chroot, vfs storage of its own in a temporary
# directory) FROM a Debian 12 base made here from Debian's packages (its
# tarball cached in $MEND_IMAGE_CACHE, default /var/tmp/mend-image-cache),
# with the runtime stage built from BINARY... Then it asserts:
#   - the image runs as 10001:10001; /etc/passwd's mend is 10001:10001 with
#     home /var/lib/mend, which it owns; /usr/local/bin holds exactly the
#     binaries; tzdata's zones and the CA bundle are there; no -dev package
#     or compiler is;
#   - ldd, inside the image, resolves every shared library of every binary
#     in /usr/local/bin (no "not found");
#   - mend-case started from the image (its default user, MEND_DATA_DIR from
#     the image) becomes SERVING over gRPC health within 60 s; its process
#     runs with uid and gid 10001 inside the image's root, not the host's;
#     its event log is in /var/lib/mend; on SIGTERM it exits 0.
# Each check is also run once where it must fail: a doctored package list,
# a library deleted inside the image, a root process, a port nobody serves.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DOCKERFILE="$HERE/Dockerfile"
PACKAGES_ONLY=0
HEALTH_WAIT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --packages-only) PACKAGES_ONLY=1; shift ;;
    --health-wait) HEALTH_WAIT="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "image_test: unknown argument $1" >&2; exit 2 ;;
  esac
done
BINARIES=("$@")
[[ ${#BINARIES[@]} -gt 0 && -x "$HEALTH_WAIT" ]] ||
  { echo "usage: image_test.sh [--packages-only] --health-wait PATH -- BINARY..." >&2; exit 2; }

PASSED=0
FAILED=0
pass() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
finish() {
  echo "$PASSED passed, $FAILED failed"
  [[ $FAILED -eq 0 ]]
}
started=$SECONDS

# --- Packages ----------------------------------------------------------------

# The packages between the Dockerfile's "runtime packages begin/end" markers.
dockerfile_packages() {
  sed -n '/# runtime packages begin/,/# runtime packages end/p' "$1" |
    grep -v '#' | tr -d '\\' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u
}

is_elf() { [[ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" == '177ELF' ]]; }

# The packages owning the libraries the binaries name (one ldd a binary, one
# dpkg -S for all), less every base's. dpkg names paths as installed, so on
# merged /usr each path is looked up as given, resolved, with and without /usr.
needed_packages() {
  local binary paths=() path c
  for binary in "$@"; do
    is_elf "$binary" || continue  # a script (mend-restore) links nothing
    while read -r path; do paths+=("$path"); done < <(
      { objdump -p "$binary" | awk '$1 == "NEEDED" { print "NEEDED", $2 }'; ldd "$binary"; } |
        awk '$1 == "NEEDED" { needed[$2] = 1; next }
             $2 == "=>" { where[$1] = $3 }
             END { for (lib in needed)
                     print ((lib in where) && where[lib] != "not" ? where[lib] : "UNRESOLVED:" lib) }')
  done
  mapfile -t paths < <(printf '%s\n' "${paths[@]}" | sort -u)
  local -A owner=()
  local candidates=()
  for path in "${paths[@]}"; do
    [[ "$path" == UNRESOLVED:* ]] && continue
    for c in "$path" "$(readlink -f "$path")"; do candidates+=("$c" "${c#/usr}" "/usr${c#/usr}"); done
  done
  local pkg file
  while IFS= read -r line; do
    pkg="${line%%: *}"; file="${line#*: }"
    owner[$file]="${pkg%%:*}"
  done < <(dpkg -S "${candidates[@]}" 2>/dev/null | grep -v '^diversion')
  for path in "${paths[@]}"; do
    [[ "$path" == UNRESOLVED:* ]] && { echo "$path"; continue; }
    pkg=""
    for c in "$path" "$(readlink -f "$path")"; do
      for file in "$c" "${c#/usr}" "/usr${c#/usr}"; do
        [[ -z "$pkg" && -n "${owner[$file]:-}" ]] && pkg="${owner[$file]}"
      done
    done
    echo "${pkg:-UNOWNED:$path}"
  done | { grep -vxE 'libc6|libgcc-s1|libstdc\+\+6' || true; } | sort -u
}

# Compares a needed list with a Dockerfile's; prints every difference.
compare_packages() {
  local needed="$1" listed="$2" rc=0 p
  [[ -s "$listed" ]] || { echo "the Dockerfile lists no runtime packages (markers missing?)"; return 1; }
  while read -r p; do
    [[ "$p" == UNRESOLVED:* || "$p" == UNOWNED:* ]] && { echo "cannot place $p"; rc=1; continue; }
    grep -qxF "$p" "$listed" || { echo "missing: $p (a binary links a library of it)"; rc=1; }
  done < "$needed"
  while read -r p; do
    grep -qxF "$p" "$needed" || { echo "not needed: $p (no binary links a library of it)"; rc=1; }
  done < "$listed"
  return $rc
}

TMP="$(mktemp -d "${TMPDIR:-/var/tmp}/mend-image-test.XXXXXX")"
STORAGE="$TMP/storage"
CTR=""
RUN_PID=""
CASE_PID=""
BUILDAH=(buildah --root "$STORAGE/root" --runroot "$STORAGE/run" --storage-driver vfs)
cleanup() {
  if [[ -n "$RUN_PID" ]] && kill -0 "$RUN_PID" 2>/dev/null; then
    [[ -z "$CASE_PID" ]] || kill -TERM "$CASE_PID" 2>/dev/null || true
    kill -TERM "$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
  fi
  if [[ -d "$STORAGE/root" ]]; then
    [[ -z "$CTR" ]] || "${BUILDAH[@]}" rm "$CTR" >/dev/null 2>&1 || true
    "${BUILDAH[@]}" rmi --all --force >/dev/null 2>&1 || true
  fi
  # Never delete through a mount left behind (buildah's are in their own
  # namespace; this is belt and braces).
  if grep -qF " $TMP" /proc/self/mountinfo; then
    echo "image_test: mounts left under $TMP; not removing it" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
# A step that is no check (making the key, say) stopping the script still
# ends with the count.
trap 'echo "FAIL: stopped at line $LINENO: $BASH_COMMAND" >&2; echo "$PASSED passed, $((FAILED + 1)) failed"' ERR

dockerfile_packages "$DOCKERFILE" > "$TMP/listed"
needed_packages "${BINARIES[@]}" > "$TMP/needed"
echo "runtime packages the binaries need: $(tr '\n' ' ' < "$TMP/needed")"
if compare_packages "$TMP/needed" "$TMP/listed" > "$TMP/diff"; then
  pass "the Dockerfile's runtime packages are exactly the binaries' ($(wc -l < "$TMP/listed"))"
else
  fail "the Dockerfile's runtime packages differ from the binaries':"; cat "$TMP/diff" >&2
fi
# Negative: one needed package dropped and an unneeded one added.
dropped="$(head -n 1 "$TMP/needed")"
{ grep -vxF "$dropped" "$TMP/listed"; echo libfmt9; } > "$TMP/doctored"
if compare_packages "$TMP/needed" "$TMP/doctored" > "$TMP/diff"; then
  fail "a list without $dropped and with libfmt9 passed the package check"
elif grep -qF "missing: $dropped" "$TMP/diff" && grep -qF "not needed: libfmt9" "$TMP/diff"; then
  pass "a doctored list is refused, naming what is missing ($dropped) and not needed (libfmt9)"
else
  fail "the doctored list's refusal does not name both differences:"; cat "$TMP/diff" >&2
fi

if [[ $PACKAGES_ONLY == 1 ]]; then finish; exit; fi

# --- Image -------------------------------------------------------------------
[[ "$(id -u)" == 0 ]] || { fail "the image test needs root (buildah with chroot isolation)"; finish; exit; }
for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null ||
    { fail "$tool is not installed (scripts/install-deps.sh installs it)"; finish; exit; }
done

TAG="localhost/mend:image-test"
echo "building the image $(date +%T)"
binary_args=()
for b in "${BINARIES[@]}"; do binary_args+=(--binaries "$b"); done
if ! "$HERE/build-image.sh" --tool buildah --base local --storage "$STORAGE" --tag "$TAG" \
    "${binary_args[@]}" > "$TMP/build.log" 2>&1; then
  tail -n 40 "$TMP/build.log" >&2
  fail "build-image.sh failed"; finish; exit
fi
pass "built $TAG with buildah from a local Debian 12 base ($((SECONDS - started)) s so far)"

user="$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$TAG")"
if [[ "$user" == 10001:10001 ]]; then pass "the image's user is 10001:10001"
else fail "the image's user is '$user', not 10001:10001"; fi

CTR="$("${BUILDAH[@]}" from --pull=never --quiet "$TAG")"
in_image() { "${BUILDAH[@]}" run --isolation chroot "$@"; }

passwd_line="$(in_image "$CTR" -- getent passwd mend || true)"
data_owner="$(in_image "$CTR" -- stat -c '%u:%g' /var/lib/mend || true)"
if [[ "$passwd_line" == mend:x:10001:10001:*:/var/lib/mend:* && "$data_owner" == 10001:10001 ]]; then
  pass "user mend is 10001:10001 with home /var/lib/mend, which it owns"
else
  fail "user mend: '$passwd_line', /var/lib/mend owned by '$data_owner'"
fi

expected_bins="$(for b in "${BINARIES[@]}"; do basename "${b%.sh}"; done | sort | tr '\n' ' ')"
image_bins="$(in_image "$CTR" -- ls -1 /usr/local/bin | sort | tr '\n' ' ' || true)"
if [[ "$image_bins" == "$expected_bins" ]]; then pass "/usr/local/bin holds exactly: $image_bins"
else fail "/usr/local/bin holds '$image_bins', expected '$expected_bins'"; fi

if in_image "$CTR" -- test -f /usr/share/zoneinfo/Europe/London 2>/dev/null &&
   in_image "$CTR" -- test -s /etc/ssl/certs/ca-certificates.crt 2>/dev/null; then
  pass "tzdata's zones and the CA bundle are in the image"
else
  fail "tzdata's zones or the CA bundle are missing from the image"
fi

# The build-only packages among a list of package names.
build_only_packages() {
  grep -E -- '-dev$|^(gcc|g\+\+|cpp|clang|cmake|ninja-build|make|binutils)(-[0-9]+)?$' || true
}
build_only="$(in_image "$CTR" -- dpkg-query -W -f '${Package}\n' | build_only_packages)"
if [[ -z "$build_only" ]]; then pass "no -dev package or compiler in the image"
else fail "build-only packages in the image: $(tr '\n' ' ' <<< "$build_only")"; fi
# Negative: the filter names what a build stage has.
found="$(printf '%s\n' libjwt0 libjwt-dev g++-12 cmake libssl3 | build_only_packages | tr '\n' ' ')"
if [[ "$found" == "libjwt-dev g++-12 cmake " ]]; then
  pass "the build-only filter names libjwt-dev, g++-12 and cmake in a build stage's list"
else
  fail "the build-only filter found '$found' in libjwt0 libjwt-dev g++-12 cmake libssl3"
fi

# Every binary's every shared library resolves with the image's loader.
check_libraries() {
  in_image "$@" -- sh -c '
    rc=0
    for b in /usr/local/bin/*; do
      [ "$(head -c 2 "$b")" = "#!" ] && continue  # a script: see mend-restore below
      out="$(ldd "$b" 2>&1)" || { echo "$b: ldd failed: $out"; rc=1; continue; }
      missing="$(echo "$out" | grep "not found")" && { echo "$b: $missing"; rc=1; }
    done
    exit $rc'
}
if check_libraries "$CTR" > "$TMP/ldd" 2>&1; then
  pass "every shared library of every binary resolves inside the image"
else
  fail "unresolved shared libraries inside the image:"; cat "$TMP/ldd" >&2
fi

# The restore script runs with what the image has (bash, coreutils, sed):
# asked for its usage it prints it and exits 2.
restore_rc=0
restore_help="$(in_image "$CTR" -- mend-restore --help 2>&1)" || restore_rc=$?
if [[ $restore_rc -eq 2 && "$restore_help" == *"Puts a backup"* ]]; then
  pass "mend-restore runs in the image"
else
  fail "mend-restore --help in the image exited $restore_rc: $restore_help"
fi

# --- mend-case from the image ---------------------------------------------------
umask 077
openssl rand -hex 32 > "$TMP/master.key"
in_image --user 0:0 "$CTR" -- install -d -o 10001 -g 10001 -m 0700 /etc/mend
"${BUILDAH[@]}" copy --quiet --chown 10001:10001 --chmod 0600 "$CTR" "$TMP/master.key" \
  /etc/mend/master.key >/dev/null
# Waits for SERVING, or for mend-case to exit first (then no use waiting on).
# A port taken between picking and binding (the log says so) is picked again.
for attempt in 1 2 3; do
  PORT="$("$HEALTH_WAIT" --pick_port)"
  timeout 300 "${BUILDAH[@]}" run --isolation chroot "$CTR" -- \
    mend-case --listen="127.0.0.1:$PORT" --master_key=/etc/mend/master.key --shutdown_grace=5s \
    > "$TMP/mend-case.log" 2>&1 &
  RUN_PID=$!
  "$HEALTH_WAIT" --port="$PORT" --service=mend.case.v1.CaseService --timeout=60s &
  health_pid=$!
  first=""
  if wait -n -p first "$health_pid" "$RUN_PID"; then status=0; else status=$?; fi
  if [[ "$first" == "$RUN_PID" ]]; then
    RUN_PID=""
    kill "$health_pid" 2>/dev/null || true
    wait "$health_pid" 2>/dev/null || true
    grep -q "cannot listen" "$TMP/mend-case.log" && [[ $attempt -lt 3 ]] && continue
  fi
  break
done
if [[ "$first" == "$health_pid" && $status == 0 ]]; then
  pass "mend-case from the image is SERVING on 127.0.0.1:$PORT (gRPC health)"
else
  if [[ -z "$RUN_PID" ]]; then
    fail "mend-case from the image exited ($status) before SERVING:"
  else
    fail "mend-case from the image did not become SERVING:"
  fi
  tail -n 20 "$TMP/mend-case.log" >&2
fi
wait "$health_pid" 2>/dev/null || true

# The mend-case process under the buildah run started (same pid namespace).
descendant_named() {
  local root="$1" name="$2" pid ppid comm
  local -A parent=() command=()
  while read -r pid ppid comm; do parent[$pid]=$ppid; command[$pid]=$comm; done \
    < <(ps -e -o pid=,ppid=,comm=)
  for pid in "${!parent[@]}"; do
    [[ "${command[$pid]}" == "$name" ]] || continue
    local p=$pid
    while [[ -n "${parent[$p]:-}" && "$p" != 1 ]]; do
      p=${parent[$p]}
      [[ "$p" == "$root" ]] && { echo "$pid"; return 0; }
    done
  done
  return 1
}
# Passes if process PID has real, effective, saved and filesystem uid and gid
# 10001 and a root other than the host's.
check_process_user() {
  local pid="$1" uids gids root
  uids="$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")"
  gids="$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")"
  root="$(readlink "/proc/$pid/root")"
  if [[ "$uids" == "10001 10001 10001 10001" && "$gids" == "10001 10001 10001 10001" && "$root" != / ]]; then
    echo "uid $uids, gid $gids, root $root"
  else
    echo "uid $uids, gid $gids, root $root"; return 1
  fi
}
[[ -z "$RUN_PID" ]] || CASE_PID="$(descendant_named "$RUN_PID" mend-case || true)"
if [[ -z "$CASE_PID" ]]; then
  fail "no mend-case process under the buildah run ($RUN_PID)"
elif how="$(check_process_user "$CASE_PID")"; then
  pass "mend-case (pid $CASE_PID) runs as the non-root user: $how"
else
  fail "mend-case (pid $CASE_PID) does not run as 10001:10001 in the image: $how"
fi
# Negative: this script runs as root on the host's root.
if how="$(check_process_user $$)"; then
  fail "the user check passed a root process ($how)"
else
  pass "the user check refuses a root process on the host's root ($how)"
fi

if [[ -n "$CASE_PID" ]]; then
  kill -TERM "$CASE_PID"
  if wait "$RUN_PID"; then
    pass "mend-case exits 0 on SIGTERM"
  else
    fail "mend-case exited $? on SIGTERM:"; tail -n 20 "$TMP/mend-case.log" >&2
  fi
  RUN_PID=""
fi
if in_image "$CTR" -- test -d /var/lib/mend/eventlog 2>/dev/null; then
  pass "mend-case kept its event log in /var/lib/mend (MEND_DATA_DIR from the image)"
else
  fail "no event log in /var/lib/mend"
fi

# Negatives: a port nobody serves is not SERVING; a library deleted inside
# the image is named by the library check.
if "$HEALTH_WAIT" --port="$("$HEALTH_WAIT" --pick_port)" --timeout=1s 2>/dev/null; then
  fail "the health wait reported SERVING on a port nobody serves"
else
  pass "the health wait fails on a port nobody serves"
fi
in_image --user 0:0 "$CTR" -- rm -f /usr/lib/x86_64-linux-gnu/libjwt.so.0 || true
if check_libraries "$CTR" > "$TMP/ldd" 2>&1; then
  fail "the library check passed with libjwt.so.0 deleted from the image"
elif grep -q "libjwt.so.0 => not found" "$TMP/ldd"; then
  pass "the library check names libjwt.so.0 once it is deleted from the image"
else
  fail "the library check failed without naming libjwt.so.0:"; cat "$TMP/ldd" >&2
fi

echo "image test took $((SECONDS - started)) s"
finish
