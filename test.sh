#!/usr/bin/env bash
# Runs every test of the repository: the .NET test projects of OrleansSessions.sln, then the Node
# compatibility suite (tests/compat, the real @ory/kratos-client against a node this script built), then the
# browser tests (tests/browser: headless Chromium, Ory Elements against that node).
# Needs the .NET 10 SDK, Node 20 with npm, Chromium (/usr/bin/chromium or CHROMIUM) and the PostgreSQL server
# binaries (initdb, pg_ctl); Chromium and PostgreSQL are installed with apt-get when missing and run as root.
# Unless ORLEANS_SESSIONS_TEST_POSTGRES already names a server, it starts a throwaway PostgreSQL cluster for
# the PostgreSQL store tests and removes it on exit.
# The last line it prints is always
#   N passed, N failed
# summing all stages; it exits non-zero if a test failed or a stage (restore, build, test run, npm ci)
# could not run — a stage that could not run counts as one failure, so it never reads "0 failed".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_UPDATE_NOTIFIER=false

SOLUTION=OrleansSessions.sln
COMPAT_DIR=tests/compat
BROWSER_DIR=tests/browser
RESULTS="$(mktemp -d "${TMPDIR:-/tmp}/orleans-sessions-test.XXXXXX")"
PG_DIR=""
PG_BIN=""

cleanup() {
  if [[ -n "$PG_DIR" ]]; then
    if [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
      as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR"
  fi
  rm -rf "$RESULTS"
}
trap cleanup EXIT

passed=0
failed=0
problems=()
declare -A stage_line=()

# A stage that could not run: one failure, and a line in the recap.
stage_failed() {
  echo "test.sh: FAILED STAGE: $1" >&2
  problems+=("$1")
  failed=$((failed + 1))
}

finish() {
  echo
  echo "==== summary ===="
  for stage in dotnet node browser; do
    [[ -n "${stage_line[$stage]:-}" ]] && echo "  ${stage}: ${stage_line[$stage]}"
  done
  for problem in "${problems[@]+"${problems[@]}"}"; do
    echo "  stage failed: $problem"
  done
  echo "$passed passed, $failed failed"
  if ((failed > 0)); then exit 1; fi
  exit 0
}

section() { echo; echo "==== $* ===="; }

# initdb refuses to run as root: as root, the cluster belongs to the postgres OS user.
as_postgres() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

# The newest installed PostgreSQL server binaries (Debian layout first, then PATH).
find_postgres_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
  if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then pg_config --bindir; return 0; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
  return 1
}

# A throwaway cluster under a temp folder, on a free loopback port, trust auth on loopback only.
start_postgres() {
  if ! PG_BIN="$(find_postgres_bin)"; then
    if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
      echo "PostgreSQL server binaries not found; installing them (apt-get install postgresql-15)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update && { apt-get install -y postgresql-15 || apt-get install -y postgresql; } || true
    fi
    if ! PG_BIN="$(find_postgres_bin)"; then
      echo "test.sh: PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql-15" >&2
      return 1
    fi
  fi
  if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
    echo "test.sh: running as root but there is no 'postgres' OS user to own the cluster" >&2
    return 1
  fi
  # As root, under /tmp (not $TMPDIR, which the postgres user may not be able to reach).
  if ((EUID == 0)); then
    PG_DIR="$(mktemp -d /tmp/orleans-sessions-pg.XXXXXX)"
  else
    PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/orleans-sessions-pg.XXXXXX")"
  fi
  if ((EUID == 0)); then chown postgres: "$PG_DIR"; fi
  chmod 700 "$PG_DIR"
  local port
  port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close();})")" || return 1
  echo "PostgreSQL: $PG_BIN, cluster in $PG_DIR, port $port"
  if ! as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    return 1
  fi
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -t 60 -w start \
      -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200"; then
    cat "$PG_DIR/server.log" >&2 || true
    return 1
  fi
  export ORLEANS_SESSIONS_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
  echo "PostgreSQL ready: ORLEANS_SESSIONS_TEST_POSTGRES=$ORLEANS_SESSIONS_TEST_POSTGRES"
}

# npm ci in a Node package folder when its node_modules is missing or older than its package-lock.json.
npm_ci_if_stale() {
  local dir="$1"
  if [[ ! -f "$dir/node_modules/.package-lock.json" \
     || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    echo "installing the packages of $dir (npm ci)"
    if ! (cd "$dir" && npm ci --no-audit --no-fund); then
      stage_failed "npm ci in $dir"
      return 1
    fi
  fi
}

# The browser tests run Debian's Chromium (CHROMIUM overrides /usr/bin/chromium); installed with apt-get when
# missing and run as root.
find_chromium() {
  local chromium="${CHROMIUM:-/usr/bin/chromium}"
  if [[ ! -x "$chromium" ]] && ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
    echo "$chromium not found; installing it (apt-get install chromium)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update && apt-get install -y chromium || true
  fi
  if [[ ! -x "$chromium" ]]; then
    stage_failed "Chromium not found at $chromium (apt-get install chromium, or set CHROMIUM)"
    return 1
  fi
}

# node --test on the *.test.mjs of a folder (spec on the console, TAP to a file); the TAP counts are added to
# the totals under the stage name $1.
run_node_suites() {
  local stage="$1" dir="$2"
  local tap="$RESULTS/$stage.tap" rc=0 counts
  (
    cd "$dir"
    shopt -s nullglob
    suites=(*.test.mjs)
    if ((${#suites[@]} == 0)); then echo "no *.test.mjs in $dir" >&2; exit 2; fi
    node --test \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$tap" \
      "${suites[@]}"
  ) || rc=$?

  # The closing "# pass N" / "# fail N" / "# cancelled N" lines of the TAP report.
  counts="$(node - "$tap" <<'JS'
const fs = require('fs');
const file = process.argv[2];
const tap = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
const last = (name) => {
  const all = [...tap.matchAll(new RegExp(`^# ${name} (\\d+)\\s*$`, 'gm'))];
  return all.length ? Number(all[all.length - 1][1]) : null;
};
const pass = last('pass');
const fail = last('fail');
if (pass === null || fail === null) process.exit(1);
console.log(`${pass} ${fail + (last('cancelled') ?? 0)}`);
JS
)" || counts=""

  if [[ "$counts" =~ ^([0-9]+)\ ([0-9]+)$ ]]; then
    local n_passed="${BASH_REMATCH[1]}" n_failed="${BASH_REMATCH[2]}"
    passed=$((passed + n_passed))
    failed=$((failed + n_failed))
    stage_line[$stage]="$n_passed passed, $n_failed failed"
    if ((rc != 0 && n_failed == 0)); then
      stage_failed "node --test in $dir exited with $rc without a failed test"
    elif ((n_passed + n_failed == 0)); then
      stage_failed "node --test in $dir ran no test"
    fi
  else
    stage_failed "could not read the results of node --test in $dir (exit code $rc)"
  fi
}

# ---------------------------------------------------------------------------------------------
section "dotnet restore"
if ! dotnet restore "$SOLUTION"; then
  stage_failed "dotnet restore $SOLUTION"
  finish
fi

section "dotnet build"
if ! dotnet build "$SOLUTION" --no-restore; then
  # Without a build there is nothing trustworthy to test (the compat suite runs the built Silo).
  stage_failed "dotnet build $SOLUTION"
  finish
fi

# ---------------------------------------------------------------------------------------------
section "PostgreSQL for the PostgreSQL store tests"
if [[ -n "${ORLEANS_SESSIONS_TEST_POSTGRES:-}" ]]; then
  echo "using the server of ORLEANS_SESSIONS_TEST_POSTGRES"
elif ! start_postgres; then
  # The PostgreSQL tests still run, and fail saying that ORLEANS_SESSIONS_TEST_POSTGRES is not set.
  stage_failed "start a throwaway PostgreSQL cluster"
fi

# ---------------------------------------------------------------------------------------------
section "dotnet test"
dotnet_rc=0
# Default TRX file names (one per test assembly; VSTest numbers clashing ones) in a fresh folder.
dotnet test "$SOLUTION" --no-build --logger trx --results-directory "$RESULTS/dotnet" 2>&1 \
  | tee "$RESULTS/dotnet-test.log" || dotnet_rc=$?

# Counts from the TRX files; the console's per-assembly "Passed!/Failed!  - Failed: F, Passed: P"
# lines are the fallback when they name more assemblies than there are TRX files.
dotnet_counts="$(node - "$RESULTS/dotnet" "$RESULTS/dotnet-test.log" <<'JS'
const fs = require('fs');
const path = require('path');
const [dir, log] = process.argv.slice(2);
const trx = { sources: 0, passed: 0, failed: 0 };
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.trx')) : [];
for (const file of files) {
  const counters = /<Counters\b([^>]*)>/.exec(fs.readFileSync(path.join(dir, file), 'utf8'));
  if (!counters) continue;
  const n = (name) => Number((new RegExp(`\\b${name}="(\\d+)"`).exec(counters[1]) ?? [])[1] ?? 0);
  trx.sources++;
  trx.passed += n('passed');
  trx.failed += n('failed') + n('error') + n('timeout') + n('aborted');
}
const consoleSummary = { sources: 0, passed: 0, failed: 0 };
const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
for (const m of text.matchAll(/^\s*(?:Passed|Failed)!\s+-\s+Failed:\s+(\d+),\s+Passed:\s+(\d+),/gm)) {
  consoleSummary.sources++;
  consoleSummary.failed += Number(m[1]);
  consoleSummary.passed += Number(m[2]);
}
const best = consoleSummary.sources > trx.sources ? consoleSummary : trx;
console.log(`${best.passed} ${best.failed} ${best.sources}`);
JS
)" || dotnet_counts=""

if [[ "$dotnet_counts" =~ ^([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]]; then
  d_passed="${BASH_REMATCH[1]}" d_failed="${BASH_REMATCH[2]}" d_assemblies="${BASH_REMATCH[3]}"
  passed=$((passed + d_passed))
  failed=$((failed + d_failed))
  stage_line[dotnet]="$d_passed passed, $d_failed failed ($d_assemblies test assemblies)"
  if ((dotnet_rc != 0 && d_failed == 0)); then
    stage_failed "dotnet test exited with $dotnet_rc without a failed test (a test host crashed or did not run)"
  fi
else
  stage_failed "could not read the results of dotnet test (exit code $dotnet_rc)"
fi

# ---------------------------------------------------------------------------------------------
section "Node compatibility tests ($COMPAT_DIR)"
if npm_ci_if_stale "$COMPAT_DIR"; then
  run_node_suites node "$COMPAT_DIR"
fi

# ---------------------------------------------------------------------------------------------
section "Browser tests ($BROWSER_DIR)"
# Their helpers import the compat harness, so the compat packages are needed too.
if npm_ci_if_stale "$BROWSER_DIR" && npm_ci_if_stale "$COMPAT_DIR" && find_chromium; then
  run_node_suites browser "$BROWSER_DIR"
fi

finish
