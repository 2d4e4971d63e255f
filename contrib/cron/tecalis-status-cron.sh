#!/usr/bin/env bash
# Runs one bulk correction unattended (cron, a systemd timer) and turns the exit code into
# a one-line message for whoever reads cron's mail. Safe to re-run: --resume sends only the
# rows not already ok, and a second copy running at the same time is refused by the results
# file's lock.
#
#   tecalis-status-cron.sh /srv/tecalis/in/2026-11-26.csv [RUN FLAGS...]
#
# RUN FLAGS (and the words of TECALIS_RUN_FLAGS, e.g. "--rate 20" or "--rate auto
# --max-retry-after 2h") are passed on to `tecalis-status run`, after the wrapper's own.
#
# Needs TECALIS_URL, and TECALIS_KEY_FILE (a chmod-600 key file) or TECALIS_API_KEY.
# Runs TECALIS_BIN if set, else the tecalis-status beside this script, else the one on PATH
# (cron's PATH is only /usr/bin:/bin: install both files in the same folder).
# Writes beside the input: NAME.results.csv, NAME.summary.json, and NAME.log: this run's
# JSON lines (one object per line, `jq` reads it whole); the logs of the previous runs are
# kept as NAME.log.1 (the last) ... NAME.log.N, N = TECALIS_LOG_KEEP (7 by default), so the
# logs never grow without end. Each log is a new file this run created, private (0600, also
# under cron's umask 022), never written through a link: a file or link planted at NAME.log
# is moved aside (rotated), never opened.
# SIGTERM, SIGINT or SIGHUP to this script (a shutdown, `timeout`, a systemd stop, Ctrl-C,
# a signal to its process group) is passed on to tecalis-status, once (SIGHUP as SIGTERM): it finishes the
# requests in flight, flushes the results and exits 130, and this script exits with its code.
set -u
input="${1:?usage: tecalis-status-cron.sh INPUT.csv [RUN FLAGS...]}"
shift
base="${input%.csv}"
# Everything the job writes is private to its user, whatever umask cron gives.
umask 077
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${TECALIS_BIN:-}" ]; then
  bin="$TECALIS_BIN"
elif [ -x "$here/tecalis-status" ]; then
  bin="$here/tecalis-status"
elif command -v tecalis-status >/dev/null 2>&1; then
  bin="tecalis-status"
else
  echo "tecalis-status: no tecalis-status beside $0 or on PATH ($PATH); install it there or set TECALIS_BIN"
  exit 127
fi
key_args=()
if [ -n "${TECALIS_KEY_FILE:-}" ]; then key_args=(--api-key-file "$TECALIS_KEY_FILE"); fi
# The run flags: TECALIS_RUN_FLAGS (split on blanks), then the arguments after INPUT.
read -r -a run_flags <<<"${TECALIS_RUN_FLAGS:-}"
run_flags+=("$@")

# One log per run: NAME.log is this run's, the previous ones move up by one.
log="$base.log"
keep="${TECALIS_LOG_KEEP:-7}"
if [ "$keep" -ge 1 ] 2>/dev/null; then
  rm -f "$log.$keep"
  # -T: a name that is a folder is replaced or refused, never moved into; links move as links.
  for ((i = keep - 1; i >= 1; i--)); do
    if [ -e "$log.$i" ] || [ -L "$log.$i" ]; then mv -fT "$log.$i" "$log.$((i + 1))"; fi
  done
  if [ -e "$log" ] || [ -L "$log" ]; then mv -fT "$log" "$log.1"; fi
fi
# This run's log: a new private file (mktemp: O_EXCL, mode 0600) opened on descriptor 3
# before it is renamed to NAME.log, so that what is written goes to the file this run created
# whatever is put at the name (a rename replaces a link, never follows it).
if ! tmp="$(mktemp "$log.XXXXXX")" || ! exec 3>>"$tmp" || ! mv -fT "$tmp" "$log"; then
  echo "tecalis-status: cannot create the log $log (a folder there, or no permission); nothing was sent"
  exit 1
fi

# The run in its own process group (job control), so that a signal to this script's group
# reaches it once, through the trap below, and never twice (a second signal means "quit at
# once" to tecalis-status).
set -m
"$bin" run "$input" --yes --resume "${key_args[@]}" \
  --summary-json "$base.summary.json" --log-format json "${run_flags[@]}" >&3 2>&3 3>&- &
child=$!
set +m
# SIGHUP (a closed session) becomes SIGTERM: tecalis-status stops cleanly only on INT and TERM.
trap 'kill -s TERM "$child" 2>/dev/null' TERM HUP
trap 'kill -s INT "$child" 2>/dev/null' INT
# `wait` returns early when a trapped signal arrives: wait again until the run has ended.
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
done
wait "$child"
code=$?
exec 3>&-

# cron mails whatever this prints; print only what needs a person.
case "$code" in
  0)   ;;                                                      # every row ok: nothing to do
  3)   echo "tecalis-status: some rows were not applied: tecalis-status report $base.results.csv" ;;
  4)   echo "tecalis-status: $input is invalid, nothing was sent: tecalis-status validate $input" ;;
  5)   echo "tecalis-status: the API key is wrong (the first answers were all 401); nothing more was sent. Fix the key; the next run resumes" ;;
  6)   echo "tecalis-status: the server could not be reached; the next run resumes. See $log" ;;
  7)   # A quota, not a failure: the server takes requests again at a time it said.
       again="$(sed -n 's/^ *"takes_requests_again_at": *"\([^"]*\)".*/\1/p' "$base.summary.json" 2>/dev/null | head -1)"
       echo "tecalis-status: the server's quota is used up (exit 7); it takes requests again at ${again:-the time in $base.summary.json (quota.takes_requests_again_at)}. Do not retry before then: the next run after that time resumes (--resume sends only the rows not ok)" ;;
  130) echo "tecalis-status: interrupted; the rows that finished are in $base.results.csv, the next run resumes" ;;
  *)   echo "tecalis-status: failed with exit code $code; see $log" ;;
esac
exit "$code"
