#!/usr/bin/env bash
# A local cluster in the split deploy mode, on this machine: PostgreSQL (started if it is not running),
# the schema migrated, 3 silos (role=silo: grains only, health on their admin port) and 1 API node
# (role=api: the public and admin APIs, an Orleans client of the silos), on distinct ports. It prints
# the endpoints and runs until Ctrl-C, which stops every process it started. A node that exits (kill -9
# it to see the cluster carry on) is reported and the others keep running; it starts again on request:
#
#   deploy/local-cluster.sh
#   echo "restart silo2" > /tmp/orleans-sessions-local-cluster/control    # or: stop silo2, status
#
# Settings (environment variables, all optional):
#   PG_CONNECTION   Npgsql connection string of an existing database to use; unset, the script runs its
#                   own PostgreSQL cluster under STATE_DIR/postgres on PG_PORT (initdb on first use, kept
#                   between runs so sessions survive a restart of the cluster) and stops it on exit.
#   PG_PORT         port of the script's own PostgreSQL (default 54329)
#   STATE_DIR       where the PostgreSQL data and the node logs go (default /tmp/orleans-sessions-local-cluster)
#   SILO_DLL        a built OrleansSessions.Silo.dll to run; unset, the script builds Silo in Release
#   SILOS           how many silos (default 3)
#   PUBLIC_PORT, ADMIN_PORT   the API node's listeners (default 4433, 4434)
#   SILO_HEALTH_PORT          first silo's health port; silo i uses +i (default 4500)
#   SILO_PORT, GATEWAY_PORT   first silo's Orleans ports; silo i uses +i (default 11111, 30000)
#   DEV             true (default): cookies without Secure and an open admin API (the nodes warn);
#                   false: set ADMIN_KEY, the admin API then needs "Authorization: Bearer $ADMIN_KEY"
#   ADMIN_KEY       admin API key for DEV=false
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STATE_DIR:-/tmp/orleans-sessions-local-cluster}"
PG_PORT="${PG_PORT:-54329}"
SILOS="${SILOS:-3}"
PUBLIC_PORT="${PUBLIC_PORT:-4433}"
ADMIN_PORT="${ADMIN_PORT:-4434}"
SILO_HEALTH_PORT="${SILO_HEALTH_PORT:-4500}"
SILO_PORT="${SILO_PORT:-11111}"
GATEWAY_PORT="${GATEWAY_PORT:-30000}"
DEV="${DEV:-true}"
CLUSTER_ID="${CLUSTER_ID:-local-cluster}"
READY_TIMEOUT=120

# Every node by name: its process (empty while it is stopped) and the arguments it was started with.
declare -A PID_OF=()
declare -A ARGS_OF=()
NODES=()
PG_DATA=""
PG_BIN=""
STARTED_PG=0

log() { echo "local-cluster: $*" >&2; }

as_postgres() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

running_pids() {
  local name
  for name in "${NODES[@]}"; do [[ -n "${PID_OF[$name]:-}" ]] && echo "${PID_OF[$name]}"; done
  return 0
}

stop_all() {
  trap - INT TERM EXIT
  local pids
  mapfile -t pids < <(running_pids)
  if ((${#pids[@]} > 0)); then
    log "stopping ${#pids[@]} node(s)"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if ((STARTED_PG)); then
    log "stopping PostgreSQL"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  log "stopped"
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

find_postgres_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$dir" && -x "$dir/initdb" ]]; then echo "$dir"; return 0; fi
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return 0; fi
  return 1
}

# --- PostgreSQL ------------------------------------------------------------------------------------
mkdir -p "$STATE_DIR/logs"
if [[ -z "${PG_CONNECTION:-}" ]]; then
  PG_BIN="$(find_postgres_bin)" || { log "PostgreSQL server binaries not found (apt-get install postgresql-15), or set PG_CONNECTION"; exit 1; }
  PG_ROOT="$STATE_DIR/postgres"
  PG_DATA="$PG_ROOT/data"
  if ((EUID == 0)); then mkdir -p "$PG_ROOT"; chown postgres: "$PG_ROOT"; fi
  mkdir -p "$PG_ROOT"; chmod 700 "$PG_ROOT"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "creating a PostgreSQL cluster in $PG_DATA"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$PG_ROOT/initdb.log"
  fi
  if as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "PostgreSQL is already running on port $PG_PORT"
  else
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_ROOT/server.log" -w -t 60 start \
      -o "-p $PG_PORT -k $PG_ROOT -c listen_addresses=127.0.0.1"
    STARTED_PG=1
  fi
  as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'orleans_sessions'" | grep -q 1 \
    || as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE orleans_sessions"
  PG_CONNECTION="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=orleans_sessions"
fi

# --- build and migrate -----------------------------------------------------------------------------
if [[ -z "${SILO_DLL:-}" ]]; then
  log "building Silo (Release)"
  dotnet build "$ROOT/Silo/Silo.csproj" -c Release -nologo -v quiet >"$STATE_DIR/logs/build.log" 2>&1 \
    || { cat "$STATE_DIR/logs/build.log" >&2; exit 1; }
  SILO_DLL="$ROOT/Silo/bin/Release/net10.0/OrleansSessions.Silo.dll"
fi
SILO_DIR="$(dirname "$SILO_DLL")"

COMMON=(
  "--store:provider=postgres" "--store:connection_string=$PG_CONNECTION" "--store:migrate_on_start=false"
  "--orleans:membership=postgres" "--orleans:advertised_ip=127.0.0.1"
  "--orleans:cluster_id=$CLUSTER_ID" "--orleans:service_id=$CLUSTER_ID"
  "--dev=$DEV"
)
if [[ -n "${ADMIN_KEY:-}" ]]; then COMMON+=("--serve:admin:api_keys:0=$ADMIN_KEY"); fi

log "migrating"
(cd "$SILO_DIR" && dotnet "$SILO_DLL" migrate "--store:provider=postgres" "--store:connection_string=$PG_CONNECTION")

# --- nodes -----------------------------------------------------------------------------------------
# Starts one node in the background, its output appended to its log file, and waits for its ready line.
# Returns non-zero (and says why) if it exits first or is not ready in time; the caller decides what that means.
start_node() {
  local name="$1"; shift
  local out="$STATE_DIR/logs/$name.log"
  if [[ -z "${ARGS_OF[$name]:-}" ]]; then NODES+=("$name"); : >"$out"; fi
  ARGS_OF[$name]="$(printf '%s\x1f' "$@")"
  local from
  from=$(($(wc -l <"$out" 2>/dev/null || echo 0) + 1))
  (cd "$SILO_DIR" && exec dotnet "$SILO_DLL" "$@" "${COMMON[@]}") >>"$out" 2>&1 &
  local pid=$!
  PID_OF[$name]="$pid"
  local waited=0
  until tail -n "+$from" "$out" | grep -q "^OrleansSessions ready:"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited before it was ready; its log ($out):"; tail -n 40 "$out" >&2
      PID_OF[$name]=""; return 1
    fi
    if ((waited >= READY_TIMEOUT * 10)); then
      log "$name not ready after ${READY_TIMEOUT}s; its log ($out):"; tail -n 40 "$out" >&2
      return 1
    fi
    sleep 0.1; waited=$((waited + 1))
  done
  log "$name ready (pid $pid)"
}

# Stops a node (SIGTERM: it leaves the cluster gracefully) and waits for it.
stop_node() {
  local name="$1" pid="${PID_OF[$1]:-}"
  if [[ -z "$pid" ]]; then log "$name is not running"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  PID_OF[$name]=""
  log "$name stopped"
}

# Starts a node again with the arguments it had (stopping it first if it still runs).
restart_node() {
  local name="$1"
  if [[ -z "${ARGS_OF[$name]:-}" ]]; then log "no node is called '$name' (nodes: ${NODES[*]})"; return 0; fi
  [[ -n "${PID_OF[$name]:-}" ]] && stop_node "$name"
  local args
  IFS=$'\x1f' read -r -a args <<<"${ARGS_OF[$name]}"
  log "starting $name again"
  start_node "$name" "${args[@]}" || log "$name did not come back; '$CONTROL' takes 'restart $name' again"
}

for ((i = 0; i < SILOS; i++)); do
  start_node "silo$((i + 1))" "--role=silo" \
    "--orleans:silo_port=$((SILO_PORT + i))" "--orleans:gateway_port=$((GATEWAY_PORT + i))" \
    "--serve:admin:host=127.0.0.1" "--serve:admin:port=$((SILO_HEALTH_PORT + i))" || exit 1
done
start_node "api1" "--role=api" \
  "--serve:public:host=127.0.0.1" "--serve:public:port=$PUBLIC_PORT" \
  "--serve:admin:host=127.0.0.1" "--serve:admin:port=$ADMIN_PORT" || exit 1

# Commands, one per line: restart NAME, stop NAME, status. Opened read-write, so reading never waits for a writer.
CONTROL="$STATE_DIR/control"
rm -f "$CONTROL"
mkfifo "$CONTROL"
exec 3<>"$CONTROL"

echo
echo "OrleansSessions local cluster is up ($SILOS silos, 1 API node, split mode):"
echo "  public API   http://127.0.0.1:$PUBLIC_PORT        (whoami: /sessions/whoami)"
echo "  admin API    http://127.0.0.1:$ADMIN_PORT        $([[ "$DEV" == true ]] && echo "(dev mode: open)" || echo "(Authorization: Bearer \$ADMIN_KEY)")"
for ((i = 0; i < SILOS; i++)); do
  echo "  silo$((i + 1))        http://127.0.0.1:$((SILO_HEALTH_PORT + i))/health/ready   (silo port $((SILO_PORT + i)), gateway $((GATEWAY_PORT + i)))"
done
echo "  PostgreSQL   ${PG_CONNECTION}"
echo "  logs         $STATE_DIR/logs"
echo "  control      echo \"restart silo2\" > $CONTROL   (also: stop NAME, status)"
echo "Ctrl-C stops them all; a node that exits is reported and the rest keep running."

# Until Ctrl-C: a node that exits is reported (which, and its exit code) and the others keep serving; commands
# on the control pipe stop and start nodes.
set +e
while true; do
  for name in "${NODES[@]}"; do
    pid="${PID_OF[$name]}"
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      code=$?
      PID_OF[$name]=""
      log "$name (pid $pid) exited with code $code; the others keep running ('restart $name' > $CONTROL starts it again; its log: $STATE_DIR/logs/$name.log)"
    fi
  done
  if read -r -t 1 command target <&3; then
    case "$command" in
      restart) restart_node "$target" ;;
      stop) stop_node "$target" ;;
      status)
        for name in "${NODES[@]}"; do
          log "$name: $([[ -n "${PID_OF[$name]}" ]] && echo "running (pid ${PID_OF[$name]})" || echo stopped)"
        done ;;
      "") ;;
      *) log "unknown command '$command' (restart NAME, stop NAME, status)" ;;
    esac
  fi
done
