#!/usr/bin/env bash
# Three regions on this machine, each its own PostgreSQL server and its own Orleans cluster of 2 co-hosted nodes
# (role=all), linked by PostgreSQL logical replication. Every byte between two regions (replication, and a node
# reading or writing what another region owns) goes through a TCP proxy of bench/LinkProxy that adds a one-way
# delay and can cut the link on request: one proxy per direction and pair. It prints the endpoints and keeps
# running when a node or a whole region dies (it says which, and with what exit code) until Ctrl-C.
#
#   deploy/local-regions.sh
#   curl -X POST http://127.0.0.1:6101/cut       # cut eu -> us (what eu's nodes and database send to us's database)
#   curl -X POST http://127.0.0.1:6101/restore
#
# Settings (environment variables, all optional):
#   DELAY       one-way delay of every link between regions (default 50ms)
#   STATE_DIR   where the PostgreSQL data and the logs go (default /tmp/orleans-sessions-local-regions; kept between runs)
#   SILO_DLL    a built OrleansSessions.Silo.dll; unset, the script builds Silo in Release
#   PROXY_DLL   a built OrleansSessions.LinkProxy.dll; unset, the script builds bench/LinkProxy in Release
#   LEASE       regions:lease of every region (default 30s)
#
# Ports, for region k = 0 (eu), 1 (us), 2 (ap) and its node n = 0, 1:
#   PostgreSQL 5440+k; public API 4400+10k+2n, admin API 4401+10k+2n; Orleans silo 11100+10k+n, gateway 30100+10k+n;
#   the link from region x to region y listens on 6000+10x+y, its control endpoint on 6100+10x+y.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STATE_DIR:-/tmp/orleans-sessions-local-regions}"
DELAY="${DELAY:-50ms}"
LEASE="${LEASE:-30s}"
READY_TIMEOUT=120
REGIONS=(eu us ap)
CODES=(e u a)

declare -A NAME_OF_PID=()
PIDS=()
PG_BIN=""
PG_STARTED=()

log() { echo "local-regions: $*" >&2; }

as_postgres() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_all() {
  trap - INT TERM EXIT
  local alive=()
  for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  if ((${#alive[@]} > 0)); then
    log "stopping ${#alive[@]} process(es)"
    kill -TERM "${alive[@]}" 2>/dev/null
    wait "${alive[@]}" 2>/dev/null
  fi
  for data in "${PG_STARTED[@]}"; do
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
  done
  log "stopped"
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

fail() { log "$*"; exit 1; }

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[[ -n "$PG_BIN" && -x "$PG_BIN/initdb" ]] || fail "PostgreSQL server binaries not found (apt-get install postgresql-15)"
mkdir -p "$STATE_DIR/logs"

# --- build -----------------------------------------------------------------------------------------
if [[ -z "${SILO_DLL:-}" ]]; then
  log "building Silo (Release)"
  dotnet build "$ROOT/Silo/Silo.csproj" -c Release -nologo -v quiet >"$STATE_DIR/logs/build-silo.log" 2>&1 \
    || { cat "$STATE_DIR/logs/build-silo.log" >&2; fail "the build failed"; }
  SILO_DLL="$ROOT/Silo/bin/Release/net10.0/OrleansSessions.Silo.dll"
fi
if [[ -z "${PROXY_DLL:-}" ]]; then
  log "building LinkProxy (Release)"
  dotnet build "$ROOT/bench/LinkProxy/LinkProxy.csproj" -c Release -nologo -v quiet >"$STATE_DIR/logs/build-proxy.log" 2>&1 \
    || { cat "$STATE_DIR/logs/build-proxy.log" >&2; fail "the build failed"; }
  PROXY_DLL="$ROOT/bench/LinkProxy/bin/Release/net10.0/OrleansSessions.LinkProxy.dll"
fi
SILO_DIR="$(dirname "$SILO_DLL")"

# Starts a process in the background, its output in logs/<name>.log; waits for a line matching $2.
start() {
  local name="$1" ready="$2"; shift 2
  local out="$STATE_DIR/logs/$name.log"
  : >"$out"
  ("$@") >"$out" 2>&1 &
  local pid=$!
  PIDS+=("$pid"); NAME_OF_PID[$pid]="$name"
  local waited=0
  until grep -q "$ready" "$out"; do
    kill -0 "$pid" 2>/dev/null || { tail -n 40 "$out" >&2; fail "$name exited before it was ready (log: $out)"; }
    ((waited >= READY_TIMEOUT * 10)) && { tail -n 40 "$out" >&2; fail "$name not ready after ${READY_TIMEOUT}s (log: $out)"; }
    sleep 0.1; waited=$((waited + 1))
  done
  log "$name ready (pid $pid)"
}

# --- PostgreSQL per region (wal_level=logical) -------------------------------------------------------
for k in 0 1 2; do
  region="${REGIONS[$k]}"; port=$((5440 + k)); root="$STATE_DIR/postgres-$region"; data="$root/data"
  mkdir -p "$root"; ((EUID == 0)) && chown postgres: "$root"; chmod 700 "$root"
  if [[ ! -f "$data/PG_VERSION" ]]; then
    log "creating PostgreSQL of $region in $data"
    as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$root/initdb.log" || fail "initdb of $region failed"
  fi
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$root/server.log" -w -t 60 start \
      -o "-p $port -k $root -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_connections=200" >/dev/null || fail "PostgreSQL of $region did not start"
    PG_STARTED+=("$data")
  fi
  as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'orleans_sessions'" | grep -q 1 \
    || as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE orleans_sessions" || fail "no database in $region"
  log "PostgreSQL of $region on 127.0.0.1:$port"
done

# --- links: one proxy per direction, every byte between regions through one ------------------------
for x in 0 1 2; do
  for y in 0 1 2; do
    ((x == y)) && continue
    start "link-${REGIONS[$x]}-${REGIONS[$y]}" "^link proxy" dotnet "$PROXY_DLL" \
      --listen "127.0.0.1:$((6000 + 10 * x + y))" --to "127.0.0.1:$((5440 + y))" --delay "$DELAY" --control "127.0.0.1:$((6100 + 10 * x + y))"
  done
done

# --- each region's settings ----------------------------------------------------------------------------
region_args() {
  local k="$1" j
  local args=("--regions:name=${REGIONS[$k]}" "--regions:code=${CODES[$k]}" "--regions:lease=$LEASE"
    "--store:provider=postgres" "--store:connection_string=Host=127.0.0.1;Port=$((5440 + k));Username=postgres;Database=orleans_sessions")
  for j in 0 1 2; do
    ((j == k)) && continue
    # The peer's database through the link from this region: for this region's nodes and for its PostgreSQL server.
    args+=("--regions:peers:${REGIONS[$j]}:code=${CODES[$j]}"
      "--regions:peers:${REGIONS[$j]}:connection_string=Host=127.0.0.1;Port=$((6000 + 10 * k + j));Username=postgres;Database=orleans_sessions")
  done
  printf '%s\n' "${args[@]}"
}

# --- migrate, nodes, link ----------------------------------------------------------------------------
for k in 0 1 2; do
  mapfile -t ARGS < <(region_args "$k")
  (cd "$SILO_DIR" && dotnet "$SILO_DLL" migrate "${ARGS[@]}") >>"$STATE_DIR/logs/migrate.log" 2>&1 || fail "migrating ${REGIONS[$k]} failed (logs/migrate.log)"
  for n in 0 1; do
    start "${REGIONS[$k]}-node$((n + 1))" "^OrleansSessions ready:" bash -c 'cd "$1" && shift && exec dotnet "$@"' _ "$SILO_DIR" "$SILO_DLL" \
      "${ARGS[@]}" --dev=true --store:migrate_on_start=false \
      --orleans:membership=postgres --orleans:advertised_ip=127.0.0.1 \
      "--orleans:cluster_id=region-${REGIONS[$k]}" "--orleans:service_id=region-${REGIONS[$k]}" \
      "--orleans:silo_port=$((11100 + 10 * k + n))" "--orleans:gateway_port=$((30100 + 10 * k + n))" \
      --serve:public:host=127.0.0.1 "--serve:public:port=$((4400 + 10 * k + 2 * n))" \
      --serve:admin:host=127.0.0.1 "--serve:admin:port=$((4401 + 10 * k + 2 * n))"
  done
done
for k in 0 1 2; do
  mapfile -t ARGS < <(region_args "$k")
  (cd "$SILO_DIR" && dotnet "$SILO_DLL" regions link "${ARGS[@]}") >>"$STATE_DIR/logs/link.log" 2>&1 || { tail -n 20 "$STATE_DIR/logs/link.log" >&2; fail "linking ${REGIONS[$k]} failed"; }
  log "${REGIONS[$k]} linked"
done

echo
echo "OrleansSessions in 3 regions (2 co-hosted nodes each, dev mode: open admin API), links delayed $DELAY one way:"
for k in 0 1 2; do
  echo "  ${REGIONS[$k]} (tokens ory_st_${CODES[$k]}…)  public http://127.0.0.1:$((4400 + 10 * k)) and :$((4402 + 10 * k)); admin :$((4401 + 10 * k)) and :$((4403 + 10 * k)); PostgreSQL 127.0.0.1:$((5440 + k))"
done
for x in 0 1 2; do
  for y in 0 1 2; do
    ((x == y)) && continue
    echo "  link ${REGIONS[$x]} -> ${REGIONS[$y]}  127.0.0.1:$((6000 + 10 * x + y)), control http://127.0.0.1:$((6100 + 10 * x + y)) (POST /cut, /restore, /delay?ms=N)"
  done
done
echo "  replication  dotnet $SILO_DLL regions status <the region's settings> (see logs/link.log for the commands' output)"
echo "  logs         $STATE_DIR/logs"
echo "Ctrl-C stops them all; a node or region that dies is reported and the rest keep running."

# Until Ctrl-C: a process that exits is reported, the others keep serving.
while ((${#NAME_OF_PID[@]} > 0)); do
  wait -n -p exited "${!NAME_OF_PID[@]}"
  code=$?
  [[ -z "${exited:-}" ]] && continue
  log "${NAME_OF_PID[$exited]} (pid $exited) exited with code $code; the other processes keep running (its log: $STATE_DIR/logs/${NAME_OF_PID[$exited]}.log)"
  unset "NAME_OF_PID[$exited]"
done
log "every process has exited"
