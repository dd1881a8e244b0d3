#!/usr/bin/env bash
# PostgreSQL's own ceiling for the callback path: pgbench runs exactly the SQL
# the payment service executes per callback (bench/sql/callback_tx.sql, one
# transaction per callback) and the set-based batch of 16 callbacks per
# transaction (bench/sql/callback_batch16.sql), on the payment schema
# (migrations/payment/*.sql, same indexes), at each concurrency level, as
# prepared statements (-M prepared) like the service's (PgStatement).
#
#   bench/pg_ceiling.sh [--port PORT] [--levels 1,4,16,64] [--seconds 10]
#                       [--payments 20000] [--variants per_callback,batch16]
#                       [--json FILE]
#
#   --port      use the PostgreSQL on 127.0.0.1:PORT (user payonce, as started
#               by scripts/lib/localdb.sh, e.g. the one payonce-bench uses);
#               without it a private cluster is started in a temporary folder
#               (same settings) and removed at exit
#   --levels    pgbench clients per level (-c; -j is min(clients, nproc))
#   --seconds   duration of each level (-T)
#   --payments  PENDING payments prefilled (comparable to the bench's table);
#               each client walks its own share, wrapping around
#   --variants  per_callback (callback_tx.sql), batch16 (callback_batch16.sql),
#               per_callback_notify_in_tx (callback_tx.sql plus a pg_notify
#               inside the transaction, as the service did before
#               OutboxNotifier: shows what the NOTIFY lock, held through
#               commit, costs)
#   --json      also write the results as JSON (payonce-bench --pg-ceiling)
#   --reuse     keep the database payonce_ceiling between calls (created and
#               prefilled by the first), so a caller can measure one level at
#               a time next to its own rows (payonce-bench does)
#   --run-base N  first run number (identifiers of nonces, events and outbox
#               rows are unique per run; callers using --reuse pass a new N)
#
# Without --reuse the database payonce_ceiling is created anew (dropped first)
# and dropped at the end. Prints one line per level: clients, TPS, average
# latency.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCALDB=$ROOT/scripts/lib/localdb.sh
PG_BIN=${PAYONCE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
DB=payonce_ceiling

PORT=""
LEVELS=1,4,16,64
SECONDS_PER_LEVEL=10
PAYMENTS=20000
VARIANTS=per_callback,batch16
JSON=""
REUSE=false
RUN_BASE=10

usage() { sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --port) PORT=$2; shift 2 ;;
    --levels) LEVELS=$2; shift 2 ;;
    --seconds) SECONDS_PER_LEVEL=$2; shift 2 ;;
    --payments) PAYMENTS=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --reuse) REUSE=true; shift ;;
    --run-base) RUN_BASE=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "pg_ceiling: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { echo "pg_ceiling: $*" >&2; }

PRIVATE_DIR=""
NOTIFY_SCRIPT=""
cleanup() {
  [[ -n $NOTIFY_SCRIPT ]] && rm -f "$NOTIFY_SCRIPT"
  if [[ -n $PORT && $REUSE == false ]]; then
    "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U payonce -d postgres \
      -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  fi
  if [[ -n $PRIVATE_DIR ]]; then
    "$LOCALDB" pg-stop "$PRIVATE_DIR" >/dev/null 2>&1 || true
    rm -rf "$PRIVATE_DIR"
  fi
}
trap cleanup EXIT

if [[ -z $PORT ]]; then
  PRIVATE_DIR=$(mktemp -d /tmp/payonce-ceiling-XXXXXX)
  PORT=$("$LOCALDB" free-port)
  say "starting a private PostgreSQL on port $PORT in $PRIVATE_DIR"
  "$LOCALDB" pg-start "$PRIVATE_DIR" "$PORT" >/dev/null
fi

PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U payonce)
EXISTS=$("${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")
if [[ $REUSE == true && $EXISTS == 1 ]]; then
  PAYMENTS=$("${PSQL[@]}" -d "$DB" -tAc "SELECT count(*) FROM payments")
else
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" 2>/dev/null
  for f in "$ROOT"/migrations/payment/*.sql; do "${PSQL[@]}" -d "$DB" -f "$f"; done
  "${PSQL[@]}" -d "$DB" -v payments="$PAYMENTS" -f "$ROOT/bench/sql/prefill.sql"
  say "schema of migrations/payment applied, $PAYMENTS PENDING payments prefilled"
fi

setting() { "${PSQL[@]}" -d "$DB" -tAc "SELECT setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name = '$1'"; }
PG_VERSION=$("${PSQL[@]}" -d "$DB" -tAc "SHOW server_version")
SETTINGS_JSON=""
for name in shared_buffers fsync synchronous_commit wal_sync_method full_page_writes \
  wal_buffers max_wal_size checkpoint_timeout commit_delay; do
  SETTINGS_JSON+="${SETTINGS_JSON:+, }\"$name\": \"$(setting "$name")\""
done

NPROC=$(nproc)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
IFS=, read -r -a LEVEL_LIST <<<"$LEVELS"
IFS=, read -r -a VARIANT_LIST <<<"$VARIANTS"
declare -A RESULTS=()
RUN=$RUN_BASE

for variant in "${VARIANT_LIST[@]}"; do
  case $variant in
    per_callback) script=$ROOT/bench/sql/callback_tx.sql; per_tx=1 ;;
    batch16) script=$ROOT/bench/sql/callback_batch16.sql; per_tx=16 ;;
    per_callback_notify_in_tx)
      NOTIFY_SCRIPT=$(mktemp /tmp/payonce-ceiling-XXXXXX.sql)
      sed "s/^INSERT INTO provider_callbacks/SELECT pg_notify(:channel, '');\n&/" \
        "$ROOT/bench/sql/callback_tx.sql" >"$NOTIFY_SCRIPT"
      script=$NOTIFY_SCRIPT
      per_tx=1
      ;;
    *) echo "pg_ceiling: unknown variant $variant" >&2; exit 2 ;;
  esac
  RESULTS[$variant]=""
  for clients in "${LEVEL_LIST[@]}"; do
    # Each client's share of the payments, a multiple of 16.
    per_client=$(((PAYMENTS / clients) / 16 * 16))
    if ((per_client < 16)); then
      echo "pg_ceiling: --payments $PAYMENTS is too few for $clients clients" >&2
      exit 2
    fi
    threads=$((clients < NPROC ? clients : NPROC))
    RUN=$((RUN + 1))
    # The same start as payonce-bench gives its rows: vacuumed, analysed,
    # checkpointed.
    "${PSQL[@]}" -d "$DB" -c "VACUUM (ANALYZE)" -c CHECKPOINT
    out=$("$PG_BIN/pgbench" -n -M prepared -c "$clients" -j "$threads" -T "$SECONDS_PER_LEVEL" \
      -D run="$RUN" -D k=0 -D per_client="$per_client" -D channel=payonce_outbox -f "$script" \
      -h 127.0.0.1 -p "$PORT" -U payonce "$DB" 2>&1) || {
      echo "$out" >&2
      exit 1
    }
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
    latency=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -1)
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    cbs=$(awk -v t="$tps" -v n="$per_tx" 'BEGIN { printf "%.1f", t * n }')
    printf '%-13s clients %-3s tps %9s  callbacks/s %9s  latency avg %7s ms  (%s transactions, %s failed)\n' \
      "$variant" "$clients" "$tps" "$cbs" "$latency" "$txns" "${failed:-0}"
    RESULTS[$variant]+="${RESULTS[$variant]:+, }{\"clients\": $clients, \"tps\": $tps, \"callbacks_per_s\": $cbs, \"latency_avg_ms\": $latency, \"transactions\": $txns, \"failed\": ${failed:-0}, \"seconds\": $SECONDS_PER_LEVEL}"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# Leave nothing for autovacuum to do here while a caller (--reuse) runs its
# next rows on the same cluster.
"${PSQL[@]}" -d "$DB" -c "VACUUM (ANALYZE)"

if [[ -n $JSON ]]; then
  {
    echo "{"
    echo "  \"tool\": \"bench/pg_ceiling.sh\","
    echo "  \"pg_version\": \"$PG_VERSION\","
    echo "  \"settings\": {$SETTINGS_JSON},"
    echo "  \"payments_prefilled\": $PAYMENTS,"
    echo "  \"seconds_per_level\": $SECONDS_PER_LEVEL,"
    echo "  \"load_before\": \"$LOAD_BEFORE\","
    echo "  \"load_after\": \"$LOAD_AFTER\","
    sep=""
    for variant in "${VARIANT_LIST[@]}"; do
      echo "  $sep\"$variant\": [${RESULTS[$variant]}]"
      sep=","
    done
    echo "}"
  } >"$JSON"
  say "results in $JSON"
fi
