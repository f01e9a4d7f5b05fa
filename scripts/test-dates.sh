#!/usr/bin/env bash
# The test suite on other days than today: the machine's clock is moved (faketime) to the night
# Europe changes to summer time and to a leap day, so a test that depends on today's date fails
# here before it fails on the calendar.
#   scripts/test-dates.sh                       the default dates, the whole suite
#   scripts/test-dates.sh -- tests/unit         the default dates, some tests (pytest arguments)
#   DATES="2027-01-01 00:00:00" scripts/test-dates.sh
# The clock is moved by an offset (faketime -f "+N"), not started at a date: with a start date
# every process (Dovecot, PostgreSQL, each watcher subprocess) restarts the clock at that date
# when it starts, so processes started a minute apart disagree by a minute and leases shared
# between them no longer mean anything. With an offset they share one clock, as real machines do.
# Only the calendar clock moves; why the monotonic one stays real: scripts/faketime/sitecustomize.py.
# Dovecot stays on the real clock (FAKETIME_SKIP_CMDS): it starts its imap and auth processes with
# a cleaned environment (its import_environment), so they never see the moved clock; a master
# process on another clock than its own children stalls logins for 20 s at a time. The mail a
# test needs dated is dated by the test's clock (tests/servers/world.py), not by Dovecot.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dates

default_dates=$'2027-03-28 01:30:00\n2028-02-29 23:30:00'
[ "${1:-}" = "--" ] && shift
# The headless-Chromium tests stay out by default: under libfaketime 0.9.10 Chromium never
# finishes loading a page (nor starts, when it is left off the moved clock), whatever the date.
# The dates they show are computed by the server, which the HTTP tests cover at every date.
[ $# -eq 0 ] && set -- --ignore-glob='tests/e2e/*_browser.py'
failed=()
while IFS= read -r when; do
  [ -n "$when" ] || continue
  offset=$(( $(date -ud "$when" +%s) - $(date -u +%s) ))
  echo "== tests with the clock at $when UTC (offset ${offset}s)"
  if ! FAKETIME_SKIP_CMDS=dovecot PYTHONPATH="$PWD/scripts/faketime" faketime --exclude-monotonic -f "+${offset}" \
      .venv/bin/python -m pytest -q -p no:cacheprovider "$@"; then
    failed+=("$when")
  fi
done <<< "${DATES:-$default_dates}"

if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed at: %s\n' "${failed[@]}"
  exit 1
fi
echo "passed at every date"
