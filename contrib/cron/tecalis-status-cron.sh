#!/usr/bin/env bash
# Runs one bulk correction unattended (cron, a systemd timer) and turns the exit code into
# an action. Safe to re-run: --resume sends only the rows not already ok, and a second copy
# running at the same time is refused by the results file's lock.
#
#   tecalis-status-cron.sh /srv/corrections/today.csv
#
# Needs TECALIS_URL and TECALIS_API_KEY (or set TECALIS_KEY_FILE to a chmod-600 key file).
# Writes beside the input: NAME.results.csv, NAME.summary.json and NAME.log (JSON lines).
set -u
input="${1:?usage: tecalis-status-cron.sh INPUT.csv}"
bin="${TECALIS_BIN:-tecalis-status}"
base="${input%.csv}"
key_args=()
if [ -n "${TECALIS_KEY_FILE:-}" ]; then key_args=(--api-key-file "$TECALIS_KEY_FILE"); fi

"$bin" run "$input" --yes --resume "${key_args[@]}" \
  --summary-json "$base.summary.json" --log-format json >>"$base.log" 2>&1
code=$?

# cron mails whatever this prints; print only what needs a person.
case "$code" in
  0)   ;;                                                      # every row ok: nothing to do
  3)   echo "tecalis-status: some rows were not applied: tecalis-status report $base.results.csv" ;;
  4)   echo "tecalis-status: $input is invalid, nothing was sent: tecalis-status validate $input" ;;
  5)   echo "tecalis-status: the API key is wrong (every answer was 401); nothing more was sent" ;;
  130) echo "tecalis-status: interrupted; the next run resumes where this one stopped" ;;
  *)   echo "tecalis-status: failed with exit code $code; see $base.log" ;;
esac
exit "$code"
