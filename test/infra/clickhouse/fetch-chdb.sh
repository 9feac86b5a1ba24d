#!/usr/bin/env bash
# fetch-chdb.sh — make sure chDB (ClickHouse as a shared library) is in a local cache; print the absolute path of
# libchdb.so on stdout (progress goes to stderr).
#
# chDB comes from the npm registry package @chdb/lib-linux-x64-gnu (a ~180 MB tarball holding package/libchdb.so,
# ClickHouse 26.7). `npm pack` only downloads the tarball: nothing is installed. Idempotent (a second run prints the
# cached path at once) and safe when several test processes run it together (flock on the cache folder).
#
# Environment (optional):
#   CHDB_CACHE    cache folder (default $HOME/.cache/castiron/chdb)
#   CHDB_VERSION  package version (default 26.7.3-stable.1)
set -euo pipefail

VERSION="${CHDB_VERSION:-26.7.3-stable.1}"
PACKAGE="@chdb/lib-linux-x64-gnu"
CACHE="${CHDB_CACHE:-${HOME:-/tmp}/.cache/castiron/chdb}"
TARGET="$CACHE/$VERSION"
LIB="$TARGET/libchdb.so"

log() { printf '[fetch-chdb] %s\n' "$*" >&2; }

if [[ -s "$LIB" ]]; then
  echo "$LIB"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { log "ERROR: npm is needed (apt-get install npm)"; exit 1; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
# Another process may have finished while we waited for the lock.
if [[ -s "$LIB" ]]; then
  echo "$LIB"
  exit 0
fi

WORK="$(mktemp -d "$CACHE/.work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
log "downloading $PACKAGE@$VERSION (~180 MB) with npm pack"
T0=$SECONDS
# A private npm cache, removed with $WORK, so the tarball is not kept twice (the library is what we keep).
( cd "$WORK" && npm pack --silent --cache "$WORK/npm-cache" "$PACKAGE@$VERSION" >"$WORK/pack.out" ) >&2
TGZ="$WORK/$(tail -n 1 "$WORK/pack.out")"
[[ -f "$TGZ" ]] || { log "ERROR: npm pack produced no tarball (said: $(cat "$WORK/pack.out"))"; exit 1; }
log "extracting libchdb.so ($((SECONDS - T0)) s so far)"
tar -xzf "$TGZ" -C "$WORK" package/libchdb.so
[[ -s "$WORK/package/libchdb.so" ]] || { log "ERROR: $TGZ has no package/libchdb.so"; exit 1; }
mkdir -p "$TARGET"
# Rename into place last so a reader never sees a half-written library.
mv "$WORK/package/libchdb.so" "$LIB.tmp"
mv "$LIB.tmp" "$LIB"
log "ready in $((SECONDS - T0)) s: $LIB"
echo "$LIB"
