#!/usr/bin/env bash
# Starts and stops a private PostgreSQL 15 cluster and Redis server in a
# folder, on loopback only. Used by the local stack (scripts/dev) and by the
# integration and end-to-end tests (with free ports and a temporary folder).
#
#   localdb.sh pg-start DIR PORT      initdb if needed, start, create the databases
#   localdb.sh pg-stop DIR            fast shutdown (waits)
#   localdb.sh pg-restart DIR         fast shutdown + start (same port)
#   localdb.sh pg-crash DIR MODE      crash (MODE kill9: SIGKILL of the postmaster;
#                                     immediate: pg_ctl -m immediate), then start
#                                     again (crash recovery)
#   localdb.sh redis-start DIR PORT   start redis-server (no persistence)
#   localdb.sh redis-stop DIR
#   localdb.sh free-port              prints a free loopback TCP port
#
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# 'postgres' system user (created by Debian's postgresql package).
set -euo pipefail

PG_BIN=${PAYONCE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
DATABASES=(payonce_order payonce_payment payonce_provider)

as_pg_user() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ $(id -u) -eq 0 ]]; then
    chmod 755 "$dir"
    # Every parent must be traversable by the postgres user.
    local p=$dir
    while [[ $p != / ]]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    mkdir -p "$dir/pg"
    chown postgres: "$dir/pg"
  else
    mkdir -p "$dir/pg"
  fi
  if [[ ! -f $dir/pg/data/PG_VERSION ]]; then
    as_pg_user "$PG_BIN/initdb" -D "$dir/pg/data" -U payonce --auth=trust -E UTF8 \
      --locale=C.UTF-8 >"$dir/pg/initdb.log" 2>&1 || { cat "$dir/pg/initdb.log" >&2; exit 1; }
  fi
  as_pg_user "$PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 start \
    -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c max_connections=300 \
        -c shared_buffers=128MB -c fsync=${PAYONCE_PG_FSYNC:-on} \
        -c synchronous_commit=${PAYONCE_PG_SYNC_COMMIT:-on}" >/dev/null ||
    { tail -20 "$dir/pg/server.log" >&2; exit 1; }
  echo "$port" >"$dir/pg/port"
  for db in "${DATABASES[@]}"; do
    if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U payonce -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U payonce "$db"
    fi
  done
}

pg_stop() {
  local dir=$1
  [[ -f $dir/pg/data/postmaster.pid ]] || return 0
  as_pg_user "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m fast -w -t 60 stop >/dev/null
}

pg_restart() {
  local dir=$1
  local port
  port=$(cat "$dir/pg/port")
  pg_stop "$dir"
  pg_start "$dir" "$port"
}

pg_crash() {
  local dir=$1 mode=$2
  local port pid i
  port=$(cat "$dir/pg/port")
  case $mode in
    kill9)
      pid=$(head -1 "$dir/pg/data/postmaster.pid")
      kill -9 "$pid"
      for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      ;;
    immediate)
      as_pg_user "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m immediate -w -t 60 stop >/dev/null
      ;;
    *) echo "pg-crash: mode kill9 or immediate" >&2; exit 2 ;;
  esac
  # The orphaned backends of a killed postmaster exit once they notice; until
  # then the new postmaster refuses the shared memory they hold.
  for i in $(seq 1 30); do
    if (pg_start "$dir" "$port") 2>>"$dir/pg/crash-restart.log"; then return 0; fi
    sleep 1
  done
  echo "PostgreSQL did not start again after the $mode crash" >&2
  tail -20 "$dir/pg/server.log" >&2
  exit 1
}

redis_start() {
  local dir=$1 port=$2
  mkdir -p "$dir/redis"
  dir=$(cd "$dir" && pwd)
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir/redis" \
    --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" --save "" \
    --appendonly no --maxmemory 256mb --maxmemory-policy volatile-lru >/dev/null
  echo "$port" >"$dir/redis/port"
  local i
  for i in $(seq 1 100); do
    if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
    sleep 0.05
  done
  echo "redis did not answer on port $port" >&2
  exit 1
}

redis_stop() {
  local dir=$1
  [[ -f $dir/redis/redis.pid ]] || return 0
  local pid
  pid=$(cat "$dir/redis/redis.pid")
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/redis/redis.pid"; return 0; }
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/redis/redis.pid"
}

# A port for a test server, as tests/support's FreePort picks it: below the
# ephemeral range 32768-60999 (no outgoing connection's source port takes it
# while the server starts), free now, and not held by a test process (lock
# files in /tmp/payonce-test-ports).
free_port() {
  /usr/bin/python3 - <<'PY'
import fcntl, os, random, socket
os.makedirs("/tmp/payonce-test-ports", exist_ok=True)
for _ in range(1000):
    port = random.randint(20000, 32767)
    with open("/tmp/payonce-test-ports/%d" % port, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    raise SystemExit("no free port in 20000-32767")
PY
}

cmd=${1:-}
shift || true
case $cmd in
  pg-start) pg_start "$@" ;;
  pg-stop) pg_stop "$@" ;;
  pg-restart) pg_restart "$@" ;;
  pg-crash) pg_crash "$@" ;;
  redis-start) redis_start "$@" ;;
  redis-stop) redis_stop "$@" ;;
  free-port) free_port ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
