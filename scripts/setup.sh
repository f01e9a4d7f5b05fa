#!/usr/bin/env bash
# Idempotent setup used by `make run` and `make test`: Debian packages when missing, a venv,
# pinned pip packages. Quick when everything is already there (a stamp per requirements hash).
#   scripts/setup.sh run    runtime only
#   scripts/setup.sh test   runtime + test tools + the servers the tests start (Dovecot, PostgreSQL, Chromium)
#   scripts/setup.sh dates  as test, plus faketime (scripts/test-dates.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
venv=.venv

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root to run: $*" >&2; exit 1; fi
}

apt_updated=
apt_install() {  # apt_install PACKAGE... (only the missing ones)
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Debian ships venv (ensurepip) separately from python3.
if ! python3 -c "import ensurepip, venv" 2>/dev/null; then apt_install python3-venv; fi

if [ "$mode" = dates ]; then
  apt_install faketime
  mode=test
fi
if [ "$mode" = test ]; then
  apt_install dovecot-imapd postgresql-15 chromium
  reqs=requirements-dev.txt
else
  reqs=requirements.txt
fi

stamp="$venv/.installed-$mode-$(cat requirements.txt "$reqs" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
  rm -f "$venv"/.installed-"$mode"-*
  touch "$stamp"
fi
