#!/usr/bin/env bash
# Rehearses a real input file against a local sandbox, exactly as the real run would go
# (validation, confirmation flags, pacing, retries, pauses, results), and stops it. Nothing
# leaves this machine.
#
#   contrib/rehearse.sh INPUT.csv [--wrong-key] [run flags, e.g. --rate 20 --concurrency 8]
#
# The sandbox (on a free loopback port) accepts every auth_uuid of the file with the
# rehearsal key, except the first valid row's, which it holds for "another customer": that
# row is answered 401, as a real run answers a process of another customer. It adds 20-50 ms
# of latency, 5% of 503s (retried) and a limit of 50 requests per second (429 + Retry-After).
# --wrong-key rehearses a wrong key instead: the sandbox knows none of the rows, every answer
# is 401, and the run stops after the first 10 (the wrong-key stop, exit 5).
#
# Results: INPUT.rehearsal.csv, replaced at each rehearsal, unless you pass --output FILE,
# --resume (continue the previous rehearsal) or --force yourself. The exit code is the run's.
# Its sandbox is stopped when you read the end: the resume command printed is this script's
# (with --resume), and it closes with the real job's own command (docs/sandbox.md).
# docs/sandbox.md, "Rehearsing a real file", gives the same steps by hand.
#
# A rehearsal writes only its own files and sends only to its own sandbox, so it never
# touches the real job beside it: --url, --api-key-file and --sandbox are refused, and so is
# an --output onto the real job's results (INPUT.results.csv, or any file a real run wrote:
# one with a job record beside it, unless its name ends in .rehearsal.csv), and a
# --summary-json onto an existing file whose name does not end in .rehearsal.json.
set -euo pipefail
input="${1:?usage: rehearse.sh INPUT.csv [--wrong-key] [run flags]}"
shift
bin="${TECALIS_BIN:-tecalis-status}"
# Without the tool, every step below fails with its errors hidden, and the script could only say
# that "the sandbox did not start": say what is missing instead.
command -v "$bin" > /dev/null || {
  echo "rehearse.sh: $bin is not found or not executable: install the tool (cargo install --path .) or set TECALIS_BIN to its path; nothing was run" >&2
  exit 1
}
wrong_key=false
own_output=false
own_mode=false
args=()          # the run's flags, as given
preview_args=()  # the same without the flags that name or replace outputs, for the dry run
quoted() { local out; printf -v out '%q ' "$@"; echo "${out% }"; }
refuse() { echo "rehearse.sh: $*; nothing was run" >&2; exit 2; }
# The real job's default results file beside INPUT (the tool's rule: NAME.csv -> NAME.results.csv).
case "$input" in
  *.[cC][sS][vV]) real_results="${input%.*}.results.csv" ;;
  *) real_results="$input.results.csv" ;;
esac
same_file() { [ "$(realpath -m -- "$1")" = "$(realpath -m -- "$2")" ]; }
# An output the rehearsal may write: not the real job's results, nor a file a real run wrote.
check_output() {
  same_file "$1" "$real_results" \
    && refuse "--output $1 is the real job's results file; a rehearsal writes only its own files (leave --output out: INPUT.rehearsal.csv)"
  case "$1" in *.rehearsal.csv) return 0 ;; esac
  [ -e "$1.job.json" ] \
    && refuse "--output $1 has a job record beside it ($1.job.json): a run wrote it, and a rehearsal writes only its own files; choose a new path, or one ending in .rehearsal.csv"
  return 0
}
check_summary() {
  case "$1" in *.rehearsal.json) return 0 ;; esac
  [ -e "$1" ] \
    && refuse "--summary-json $1 exists and may be the real job's summary; a rehearsal writes only its own files: choose a new path, or one ending in .rehearsal.json"
  return 0
}
skip_value=""
again=("$0" "$input") # the command that continues this rehearsal: the same flags, --resume
for a in "$@"; do
  case "$a" in --wrong-key|--force|--yes|-y) ;; *) again+=("$a") ;; esac
  if [ -n "$skip_value" ]; then
    "$skip_value" "$a"; skip_value=""; args+=("$a"); continue
  fi
  case "$a" in
    --wrong-key) wrong_key=true; continue ;;
    --url|--url=*|--api-key-file|--api-key-file=*|--sandbox)
      refuse "${a%%=*} is refused: a rehearsal sends only to its own sandbox, with its own key (run the tool itself to send anywhere else)" ;;
    --output|-o) own_output=true; skip_value=check_output; args+=("$a"); continue ;;
    --output=*|-o=*) own_output=true; check_output "${a#*=}"; args+=("$a"); continue ;;
    -o?*) own_output=true; check_output "${a#-o}"; args+=("$a"); continue ;;
    --summary-json) skip_value=check_summary; args+=("$a"); continue ;;
    --summary-json=*) check_summary "${a#*=}"; args+=("$a"); continue ;;
    --resume|--force) own_mode=true; args+=("$a"); continue ;;
    --yes|-y) continue ;;
  esac
  args+=("$a")
  preview_args+=("$a")
done
case " ${again[*]} " in *" --resume "*) ;; *) again+=(--resume) ;; esac
[ "$own_output" = true ] || args+=(--output "${input%.csv}.rehearsal.csv")
[ "$own_mode" = true ] || args+=(--force)
work="$(mktemp -d)"
sandbox=""
trap '[ -z "$sandbox" ] || kill "$sandbox" 2>/dev/null || true; rm -rf "$work"' EXIT

# The first valid row's auth_uuid, from the dry run's preview (standard output).
first="$(TECALIS_API_KEY=rehearsal "$bin" run "$input" --dry-run --url http://127.0.0.1:9 \
  --output "$work/preview.csv" "${preview_args[@]}" 2>/dev/null \
  | sed -n 's/.*"auth_uuid":"\([^"]*\)".*/\1/p' | head -n 1 || true)"
if [ "$wrong_key" = true ]; then
  echo '[]' > "$work/seed.json"
  seed=(--seed "$work/seed.json")
  key=wrong-rehearsal-key
else
  printf 'auth_uuid,api_key\n%s,another-customers-key\n' "${first:-00000000-0000-0000-0000-000000000000}" > "$work/seed.csv"
  seed=(--seed "$work/seed.csv" --accept-unknown)
  key=rehearsal
fi

# The file exists before the sandbox starts: the loop below may read it before the
# background redirection has created it (under set -e, sed's "can't read" ended the script).
: > "$work/sandbox.out"
"$bin" sandbox --listen 127.0.0.1:0 "${seed[@]}" \
  --latency 20ms --jitter 30ms --error-rate 0.05 --rate-limit 50 > "$work/sandbox.out" 2> "$work/sandbox.err" &
sandbox=$!
url=""
for _ in $(seq 200); do
  url="$(sed -n 's/^listening on //p' "$work/sandbox.out")"
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || {
  echo "rehearse.sh: the sandbox did not start; nothing was run" >&2
  sed 's/^/  sandbox: /' "$work/sandbox.err" >&2 || true
  exit 1
}
if [ "$wrong_key" = true ]; then
  echo "rehearse.sh: sandbox at $url; a wrong key: every answer is 401" >&2
else
  echo "rehearse.sh: sandbox at $url; ${first:-no row} plays a process of another customer (401)" >&2
fi

# The sandbox is stopped when the user reads the run's next step: a resume command must
# continue the rehearsal (a new sandbox, this script, --resume), never name the stopped
# sandbox, and never be one that, pointed at the real server, would take the rehearsal's ok
# rows for done. TECALIS_REHEARSAL_RESUME is what the run prints instead of its own command.
set +e
TECALIS_URL="$url" TECALIS_API_KEY="$key" TECALIS_REHEARSAL_RESUME="$(quoted "${again[@]}")" \
  "$bin" run "$input" --yes "${args[@]}"
code=$?
set -e
# A Ctrl-C at the terminal reaches the sandbox too (the same process group) and stops it: then
# what it received is unknown, which is not the same as curl missing.
if ! command -v curl > /dev/null; then
  received="(unknown: curl is not installed)"
elif ! received="$(curl -s "$url/_sandbox/stats" 2>/dev/null)"; then
  received="(unknown: the sandbox no longer answers; a Ctrl-C or a signal to the group stops it with the run)"
fi
echo "rehearse.sh: the sandbox received: $received" >&2
real=("$bin" run "$input" "${preview_args[@]}")
{
  echo "rehearse.sh: exit code $code; the rehearsal's sandbox is stopped, and nothing reached a real server."
  echo "To continue this rehearsal (a new sandbox; its rows already ok are not sent again):"
  echo "  $(quoted "${again[@]}")"
  echo "The real job is a run of its own, which sends every row whatever the rehearsal's results say:"
  echo "  $(quoted "${real[@]}") --url URL --api-key-file KEY-FILE"
} >&2
exit "$code"
