#!/usr/bin/env bash
# Installs Debian's Chromium when it is missing (browser tests, chart export).
# Prints why when it cannot; the browser tests then skip with that reason.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "chromium missing and not root: browser tests will skip" >&2; exit 0; fi
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium (browser tests, chart export)..."
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null 2>&1 \
    || echo "could not install chromium: browser tests will skip" >&2
else
  echo "no apt-get: browser tests will skip" >&2
fi
exit 0
