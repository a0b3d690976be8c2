#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries (initdb, pg_ctl, postgres) when missing.
# The meeting record's tests (tests/record/) start a throwaway cluster of it in a temporary
# folder and stop it at the end; nothing is configured or started here.
# Prints why when it cannot; the PostgreSQL half of those tests then skips with that reason.
set -u
have_pg() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
if have_pg; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "postgresql missing and not root: the record's PostgreSQL tests will skip" >&2; exit 0; fi
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql (the meeting record's tests)..."
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null 2>&1 \
    || echo "could not install postgresql: the record's PostgreSQL tests will skip" >&2
else
  echo "no apt-get: the record's PostgreSQL tests will skip" >&2
fi
exit 0
