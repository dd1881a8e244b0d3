#!/usr/bin/env bash
# End-to-end test of the `payonce` CLI against the real processes: a private
# PostgreSQL, order-service, payment-service, provider-sandbox and
# outbox-relay, all on free loopback ports in a temporary folder that is
# removed afterwards (together with every process started here).
#
#   tests/e2e/cli_test.sh [BUILD_DIR]      (default: build, next to this repo's sources)
#
# Prints one line per check and "N passed, M failed" at the end; exits 1 if a
# check failed, 77 if a binary is missing (not built), 0 otherwise.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build}
[[ -d $BUILD ]] || BUILD=$ROOT/$BUILD
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build dir: ${1:-build}" >&2; exit 77; }
LOCALDB=$ROOT/scripts/lib/localdb.sh
PY=/usr/bin/python3

CLI=$BUILD/services/cli/payonce
MIGRATE=$BUILD/services/migrate/payonce-migrate
ORDER_BIN=$BUILD/services/order/order-service
PAYMENT_BIN=$BUILD/services/payment/payment-service
SANDBOX_BIN=$BUILD/services/provider_sandbox/provider-sandbox
RELAY_BIN=$BUILD/services/outbox_relay/outbox-relay
for bin in "$CLI" "$MIGRATE" "$ORDER_BIN" "$PAYMENT_BIN" "$SANDBOX_BIN" "$RELAY_BIN"; do
  [[ -x $bin ]] || { echo "missing $bin: build it first" >&2; exit 77; }
done

# Settings of the caller's environment must not leak into the processes here.
while read -r var; do
  [[ $var == PAYONCE_PG_* ]] || unset "$var"
done < <(compgen -e | grep '^PAYONCE_')

WORK=$(mktemp -d /tmp/payonce-cli-test.XXXXXX)
declare -A PIDS=()
PASSED=0
FAILED=0
SKIPPED=0

stop_process() {
  local pid=$1 _
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

cleanup() {
  local name
  for name in "${!PIDS[@]}"; do stop_process "${PIDS[$name]}"; done
  if ((FAILED > 0)); then
    for name in order payment sandbox relay; do
      [[ -f $WORK/$name.log ]] || continue
      echo "--- last lines of $name.log"
      tail -n 15 "$WORK/$name.log"
    done
  fi
  "$LOCALDB" pg-stop "$WORK" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$LOCALDB" free-port; }

# start NAME BINARY [VAR=VALUE...] [-- FLAGS...]: runs BINARY in the
# background with those environment variables, logging to $WORK/NAME.log.
start() {
  local name=$1 bin=$2
  shift 2
  local vars=() flags=()
  while (($#)); do
    if [[ $1 == -- ]]; then shift; flags=("$@"); break; fi
    vars+=("$1")
    shift
  done
  env "${vars[@]}" "$bin" "${flags[@]}" >>"$WORK/$name.log" 2>&1 &
  PIDS[$name]=$!
}

stop() {
  [[ -n ${PIDS[$1]:-} ]] || return 0
  stop_process "${PIDS[$1]}"
  unset "PIDS[$1]"
}

# Polls `payonce health --addr` until the server answers SERVING (30 s at most).
await_serving() {
  local name=$1 addr=$2 _
  for _ in $(seq 1 300); do
    "$CLI" health --addr "$addr" --timeout-ms 500 >/dev/null 2>&1 && return 0
    kill -0 "${PIDS[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not become SERVING on $addr; its log:" >&2
  tail -n 30 "$WORK/$name.log" >&2
  exit 1
}

# --- checks ------------------------------------------------------------------

OUT=""
ERR=""
RC=0
LAST=""

# run ARGS...: runs the CLI; sets OUT (stdout), ERR (stderr) and RC.
run() {
  OUT=$("$CLI" "$@" 2>"$WORK/stderr")
  RC=$?
  ERR=$(<"$WORK/stderr")
  LAST="payonce $*"
}

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL $1: $2"
  echo "     command: $LAST (exit $RC)"
  [[ -z $OUT ]] || echo "$OUT" | head -n 20 | sed 's/^/     out: /'
  [[ -z $ERR ]] || echo "$ERR" | head -n 5 | sed 's/^/     err: /'
}
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip $1: $2"; }

expect_rc() {
  if [[ $RC == "$2" ]]; then pass "$1"; else fail "$1" "exit $RC, want $2"; fi
}

# expect_json NAME PYTHON_EXPR: the expression, with d = stdout parsed as JSON, is true.
expect_json() {
  if $PY -c 'import json,sys; d=json.loads(sys.stdin.read()); sys.exit(0 if eval(sys.argv[1]) else 1)' \
    "$2" <<<"$OUT" 2>/dev/null; then
    pass "$1"
  else
    fail "$1" "not true of the JSON output: $2"
  fi
}

# json PYTHON_EXPR: prints the expression's value for d = stdout parsed as JSON.
json() { $PY -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1" <<<"$OUT"; }

# expect_out NAME REGEX / expect_err NAME REGEX: stdout / stderr matches.
expect_out() {
  if grep -Eq -- "$2" <<<"$OUT"; then pass "$1"; else fail "$1" "stdout does not match /$2/"; fi
}
expect_err() {
  if grep -Eq -- "$2" <<<"$ERR"; then pass "$1"; else fail "$1" "stderr does not match /$2/"; fi
}

# Polls until `payonce ARGS...` prints JSON for which PYTHON_EXPR is true
# (at most SECONDS); leaves OUT/ERR/RC of the last run.
poll_json() {
  local seconds=$1 expr=$2 deadline
  shift 2
  deadline=$(($(date +%s%N) + seconds * 1000000000))
  while :; do
    run "$@"
    if ((RC == 0)) && $PY -c 'import json,sys; d=json.loads(sys.stdin.read()); sys.exit(0 if eval(sys.argv[1]) else 1)' \
      "$expr" <<<"$OUT" 2>/dev/null; then
      return 0
    fi
    (($(date +%s%N) < deadline)) || return 1
    sleep 0.1
  done
}

UUID_RE='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

# --- setup -------------------------------------------------------------------

PG_PORT=$(free_port)
db_url() { echo "postgresql://payonce@127.0.0.1:$PG_PORT/payonce_$1"; }
# payonce-migrate started before its database answers (as a container may be
# next to a PostgreSQL whose name does not resolve yet): it retries while the
# database is unreachable, within PAYONCE_DB_STARTUP_TIMEOUT_MS, then migrates.
PAYONCE_MIGRATE_DATABASE=order PAYONCE_DATABASE_URL=$(db_url order) \
  PAYONCE_DB_STARTUP_TIMEOUT_MS=60000 "$MIGRATE" >"$WORK/migrate-early.log" 2>&1 &
PIDS[migrate]=$!
sleep 1
"$LOCALDB" pg-start "$WORK" "$PG_PORT" || { echo "cannot start PostgreSQL" >&2; exit 1; }
wait "${PIDS[migrate]}"
RC=$?
unset "PIDS[migrate]"
LAST="payonce-migrate (order) started 1 s before PostgreSQL"
OUT=$(cat "$WORK/migrate-early.log")
expect_rc "payonce-migrate waits for a database that is not up yet" 0
if grep -q '"database unreachable; retrying"' "$WORK/migrate-early.log" &&
  grep -q '"schema up to date"' "$WORK/migrate-early.log"; then
  pass "payonce-migrate logs its retries, then migrates"
else
  fail "payonce-migrate logs its retries, then migrates" "no retry or no migration in its log"
fi
OUT=""
for db in order payment provider; do
  PAYONCE_MIGRATE_DATABASE=$db PAYONCE_DATABASE_URL=$(db_url "$db") "$MIGRATE" \
    >>"$WORK/migrate.log" 2>&1 || { echo "migration of $db failed:" >&2; cat "$WORK/migrate.log" >&2; exit 1; }
done

ORDER_ADDR=127.0.0.1:$(free_port)
PAYMENT_ADDR=127.0.0.1:$(free_port)
SANDBOX_ADDR=127.0.0.1:$(free_port)
# Nothing listens here (the port was free a moment ago).
DEAD_ADDR=127.0.0.1:$(free_port)

start order "$ORDER_BIN" PAYONCE_DATABASE_URL="$(db_url order)" \
  PAYONCE_GRPC_LISTEN_ADDR="$ORDER_ADDR" PAYONCE_METRICS_LISTEN_ADDR="127.0.0.1:$(free_port)"
# No Redis (PostgreSQL decides anyway): PAYONCE_REDIS_ADDR=off.
start payment "$PAYMENT_BIN" PAYONCE_DATABASE_URL="$(db_url payment)" \
  PAYONCE_GRPC_LISTEN_ADDR="$PAYMENT_ADDR" PAYONCE_METRICS_LISTEN_ADDR="127.0.0.1:$(free_port)" \
  PAYONCE_CALLBACK_SECRETS=s1 PAYONCE_ORDER_SERVICE_TARGET="$ORDER_ADDR" \
  PAYONCE_PROVIDER_TARGET="$SANDBOX_ADDR" PAYONCE_REDIS_ADDR=off
start sandbox "$SANDBOX_BIN" PAYONCE_DATABASE_URL="$(db_url provider)" \
  PAYONCE_GRPC_LISTEN_ADDR="$SANDBOX_ADDR" PAYONCE_METRICS_LISTEN_ADDR="127.0.0.1:$(free_port)" \
  PAYONCE_CALLBACK_SECRETS=s1 PAYONCE_PAYMENT_SERVICE_TARGET="$PAYMENT_ADDR"

# start_relay ORDER_TARGET [VAR=VALUE...]: (re)starts the outbox relay.
start_relay() {
  local target=$1
  shift
  stop relay
  start relay "$RELAY_BIN" PAYONCE_DATABASE_URL="$(db_url payment)" \
    PAYONCE_METRICS_LISTEN_ADDR="127.0.0.1:$(free_port)" PAYONCE_ORDER_SERVICE_TARGET="$target" \
    PAYONCE_RELAY_POLL_INTERVAL_MS=100 PAYONCE_RELAY_DELIVERY_TIMEOUT_MS=1000 "$@"
}
start_relay "$ORDER_ADDR"

await_serving order "$ORDER_ADDR"
await_serving payment "$PAYMENT_ADDR"
await_serving sandbox "$SANDBOX_ADDR"

# The CLI finds the services through the same variables the services use.
export PAYONCE_ORDER_SERVICE_TARGET=$ORDER_ADDR
export PAYONCE_PAYMENT_SERVICE_TARGET=$PAYMENT_ADDR
export PAYONCE_PROVIDER_TARGET=$SANDBOX_ADDR

# --- help and usage ----------------------------------------------------------

run --help
expect_rc "--help exits 0" 0
expect_out "--help documents the exit codes" 'Exit codes:'
expect_out "--help lists the commands" '^  health +'
run order create --help
expect_rc "order create --help exits 0" 0
expect_out "order create --help has examples" 'Examples:'
run sandbox faults --help
expect_out "sandbox faults --help lists every fault" 'callback-target-down-retry-ms'

run
expect_rc "no command: usage error" 2
run bogus
expect_rc "unknown command: usage error" 2
run order
expect_rc "command group without command: usage error" 2
expect_err "command group without command shows its commands" 'timeline'
run order create --customer alice
expect_rc "missing required flags: usage error" 2
run order list --status shipped
expect_rc "bad --status: usage error" 2
run --timeout-ms 0 order list
expect_rc "--timeout-ms 0: usage error" 2

# --- health ------------------------------------------------------------------

run health
expect_rc "health of all three services" 0
if [[ $(grep -c SERVING <<<"$OUT") == 3 ]]; then pass "health prints three SERVING rows"; else
  fail "health prints three SERVING rows" "got: $OUT"; fi
run health --json
expect_json "health --json: healthy" 'd["healthy"] is True and len(d["checks"]) == 3'
run health --addr "$PAYMENT_ADDR"
expect_rc "health --addr" 0
run health --addr "$PAYMENT_ADDR" --service payonce.payment.v1.PaymentService
expect_rc "health --addr --service" 0
run health --addr "$PAYMENT_ADDR" --service no.such.Service
expect_rc "health of an unknown service: NOT_FOUND (6)" 6
run health --addr "$DEAD_ADDR"
expect_rc "health of a dead address: UNAVAILABLE (15)" 15
expect_err "health of a dead address: error line" "^error: UNAVAILABLE: .*$DEAD_ADDR"
run health --sandbox-addr "$DEAD_ADDR"
expect_rc "health with one of three down: exit non-zero" 15
expect_out "health with one of three down still shows the others" 'order .*SERVING'

# A server that accepts TCP but never speaks HTTP/2: the call must end within
# the deadline (as DEADLINE_EXCEEDED, or UNAVAILABLE when the connection
# attempt gives up first), so a container probe never hangs.
SILENT_PORT_FILE=$WORK/silent.port
$PY -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(120)' "$SILENT_PORT_FILE" &
PIDS[silent]=$!
for _ in $(seq 1 100); do [[ -s $SILENT_PORT_FILE ]] && break; sleep 0.05; done
started=$(date +%s%N)
run health --addr "127.0.0.1:$(<"$SILENT_PORT_FILE")" --timeout-ms 300
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
if [[ $RC == 5 || $RC == 15 ]]; then pass "health of a silent server fails (exit $RC)"; else
  fail "health of a silent server fails" "exit $RC, want 5 or 15"; fi
if ((elapsed_ms < 3000)); then pass "health of a silent server is fast (${elapsed_ms} ms)"; else
  fail "health of a silent server is fast" "took ${elapsed_ms} ms"; fi
stop silent

# --- orders ------------------------------------------------------------------

run order create --customer alice --amount-minor 1999 --currency EUR --description "green tea"
expect_rc "order create" 0
expect_out "order create prints money as minor units + currency" '^amount +1999 EUR$'
expect_out "order create prints the status without prefix" '^status +PENDING_PAYMENT$'
expect_out "order create prints the generated request id" "^request_id +$UUID_RE\$"
expect_out "order create prints RFC 3339 UTC times" '^created_at +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$'

REQUEST_ID=cart-$$-$RANDOM
run --json order create --customer bob --amount-minor 2500 --currency EUR --request-id "$REQUEST_ID"
expect_rc "order create --json" 0
expect_json "order create --json fields" \
  "d['status'] == 'ORDER_STATUS_PENDING_PAYMENT' and d['amount_minor'] == '2500' and d['currency'] == 'EUR' and d['request_id'] == '$REQUEST_ID'"
ORDER1=$(json 'd["order_id"]')
run --json order create --customer bob --amount-minor 2500 --currency EUR --request-id "$REQUEST_ID"
expect_json "order create with the same request id returns the same order" "d['order_id'] == '$ORDER1'"
run --json order create --customer bob --amount-minor 2600 --currency EUR --request-id "$REQUEST_ID"
expect_rc "order create, same request id, other fields: FAILED_PRECONDITION (10)" 10
expect_err "FAILED_PRECONDITION error line" '^error: FAILED_PRECONDITION: '
run --json order create --customer bob --amount-minor 2500 --currency eur
expect_rc "order create with a bad currency: INVALID_ARGUMENT (4)" 4
expect_err "INVALID_ARGUMENT error line" '^error: INVALID_ARGUMENT: '
if [[ -z $OUT ]]; then pass "--json prints nothing on stdout on error"; else
  fail "--json prints nothing on stdout on error" "stdout not empty"; fi
run order create --customer bob --amount-minor 0 --currency EUR
expect_rc "order create with amount 0: INVALID_ARGUMENT (4)" 4

run order get "$ORDER1" --json
expect_rc "order get (global flag after the command)" 0
expect_json "order get returns the order" "d['order_id'] == '$ORDER1' and d['customer_id'] == 'bob'"
run order get no-such-order
expect_rc "order get of an unknown order: NOT_FOUND (6)" 6
expect_err "NOT_FOUND error line" '^error: NOT_FOUND: '
run --order-addr "$DEAD_ADDR" order get "$ORDER1"
expect_rc "--order-addr overrides PAYONCE_ORDER_SERVICE_TARGET (dead: 15)" 15

run --json order create --customer bob --amount-minor 300 --currency USD
ORDER2=$(json 'd["order_id"]')
run --json order create --customer bob --amount-minor 400 --currency USD
ORDER3=$(json 'd["order_id"]')

run --json order list --customer bob
expect_rc "order list" 0
expect_json "order list: newest first" \
  "[o['order_id'] for o in d['orders']] == ['$ORDER3', '$ORDER2', '$ORDER1']"
run --json order list --customer bob --page-size 2
expect_json "order list --page-size 2: one page and a token" \
  "len(d['orders']) == 2 and d['next_page_token'] != ''"
TOKEN=$(json 'd["next_page_token"]')
run --json order list --customer bob --page-size 2 --page-token "$TOKEN"
expect_json "order list --page-token: the rest" "[o['order_id'] for o in d['orders']] == ['$ORDER1']"
run --json order list --customer bob --page-size 1 --all
expect_json "order list --all follows the tokens" "len(d['orders']) == 3 and d['next_page_token'] == ''"
run order list --customer bob
expect_out "order list table has a header" '^ORDER_ID +STATUS +AMOUNT +CUSTOMER'
expect_out "order list table shows money" ' 2500 EUR '

run order cancel "$ORDER3" --reason "out of stock"
expect_rc "order cancel" 0
expect_out "order cancel shows CANCELLED" '^status +CANCELLED$'
run --json order cancel "$ORDER3"
expect_json "order cancel of a cancelled order returns it unchanged" \
  "d['status'] == 'ORDER_STATUS_CANCELLED' and d['cancel_reason'] == 'out of stock'"
run --json order list --customer bob --status cancelled
expect_json "order list --status cancelled" "[o['order_id'] for o in d['orders']] == ['$ORDER3']"
run --json order list --customer bob --status pending
expect_json "order list --status pending" "len(d['orders']) == 2"
run --json order timeline "$ORDER3"
expect_rc "order timeline" 0
expect_json "order timeline: created, then cancelled" \
  "[e['kind'] for e in d['entries']] == ['created', 'cancelled']"
run order timeline "$ORDER3"
expect_out "order timeline table" 'api +cancelled +PENDING_PAYMENT +CANCELLED'
run order timeline no-such-order
expect_rc "order timeline of an unknown order: NOT_FOUND (6)" 6

# --- payments ----------------------------------------------------------------

run --json pay "$ORDER1" --wait-paid 20
expect_rc "pay --wait-paid: the order becomes PAID" 0
expect_json "pay --wait-paid --json" \
  "d['paid'] is True and d['order']['status'] == 'ORDER_STATUS_PAID' and d['payment']['status'] == 'PAYMENT_STATUS_SUCCEEDED' and d['payment']['amount_minor'] == '2500'"
PAYMENT1=$(json 'd["payment"]["payment_id"]')
KEY1=$(json 'd["idempotency_key"]')
if [[ $KEY1 =~ ^$UUID_RE$ ]]; then pass "pay generates a UUID idempotency key"; else
  fail "pay generates a UUID idempotency key" "got '$KEY1'"; fi
run --json pay "$ORDER1"
expect_json "pay again returns the live payment (no second debit)" \
  "d['payment']['payment_id'] == '$PAYMENT1'"
run pay "$ORDER3"
expect_rc "pay a cancelled order: FAILED_PRECONDITION (10)" 10
run pay no-such-order
expect_rc "pay an unknown order: NOT_FOUND (6)" 6

run payment get "$PAYMENT1"
expect_rc "payment get" 0
expect_out "payment get shows SUCCEEDED" '^status +SUCCEEDED$'
expect_out "payment get shows money" '^amount +2500 EUR$'
run payment get no-such-payment
expect_rc "payment get of an unknown payment: NOT_FOUND (6)" 6
run --json payment list "$ORDER1"
expect_json "payment list" "[p['payment_id'] for p in d['payments']] == ['$PAYMENT1']"
run payment list "$ORDER1"
expect_out "payment list table" "^$PAYMENT1 +SUCCEEDED +2500 EUR "
run --json order timeline "$ORDER1"
expect_json "order timeline shows the payment event" \
  "any(e['payment_id'] == '$PAYMENT1' and e['new_status'] == 'ORDER_STATUS_PAID' for e in d['entries'])"

# --- sandbox -----------------------------------------------------------------

run sandbox faults
expect_rc "sandbox faults without flags: usage advice" 2
expect_err "sandbox faults advice mentions --clear" '--clear'
run --json sandbox faults --fail-rate 1 --max-delay-ms 10 --reorder
expect_rc "sandbox faults --fail-rate 1" 0
expect_json "sandbox faults prints the stored config (unset = 0)" \
  "d['fail_rate'] == 1 and d['max_delay_ms'] == 10 and d['reorder'] is True and d['duplicate_callback_rate'] == 0"
run sandbox faults --fail-rate 2
expect_rc "sandbox faults with a rate above 1: usage error" 2
run sandbox faults --clear --fail-rate 1
expect_rc "sandbox faults --clear with another flag: usage error" 2

run --json pay "$ORDER2" --wait-paid 1
expect_rc "pay --wait-paid with a declined debit: exit 1" 1
expect_err "pay --wait-paid explains why" 'not PAID'
expect_json "pay --wait-paid --json: paid false" "d['paid'] is False"
FAILED_PAYMENT=$(json 'd["payment"]["payment_id"]')
if poll_json 10 "d['payments'][0]['status'] == 'PAYMENT_STATUS_FAILED'" --json payment list "$ORDER2"; then
  pass "declined payment is FAILED"
else
  fail "declined payment is FAILED" "never became FAILED within 10 s"
fi

run sandbox faults --clear
expect_rc "sandbox faults --clear" 0
expect_out "sandbox faults --clear stores zeros" '^fail_rate +0$'

run --json sandbox stats
expect_rc "sandbox stats" 0
expect_json "sandbox stats totals" "int(d['debits_total']) >= 2 and int(d['captures_total']) >= 1"
run --json sandbox stats --payment-id "$PAYMENT1"
expect_json "sandbox stats --payment-id: one captured payment" \
  "len(d['payments']) == 1 and d['payments'][0]['captures'] == '1' and d['payments'][0]['net_captured_minor'] == '2500'"
run sandbox stats --payment-id "$PAYMENT1" --payment-id "$FAILED_PAYMENT"
expect_out "sandbox stats per-payment table" "^$PAYMENT1 +1 +1 +0 +2500 EUR\$"

# --- refunds -----------------------------------------------------------------

run --json payment refund "$PAYMENT1" --reason "returned goods" --idempotency-key "refund-$$"
expect_rc "payment refund" 0
expect_json "payment refund: REFUNDED" \
  "d['payment']['status'] == 'PAYMENT_STATUS_REFUNDED' and d['idempotency_key'] == 'refund-$$'"
run --json payment refund "$PAYMENT1" --reason "returned goods" --idempotency-key "refund-$$"
expect_rc "payment refund retried with the same key" 0
run --json sandbox stats --payment-id "$PAYMENT1"
expect_json "the provider refunded exactly once" \
  "d['payments'][0]['refunds'] == '1' and d['payments'][0]['net_captured_minor'] == '0'"
run payment refund "$FAILED_PAYMENT"
expect_rc "refund a FAILED payment: FAILED_PRECONDITION (10)" 10
run payment refund no-such-payment
expect_rc "refund an unknown payment: NOT_FOUND (6)" 6

# --- outbox ------------------------------------------------------------------

run outbox stats
if [[ $RC == 13 ]]; then
  skip "outbox commands" "this payment-service does not serve OutboxAdmin (UNIMPLEMENTED)"
else
  expect_rc "outbox stats" 0
  expect_out "outbox stats table" '^dead_letters +[0-9]+$'
  run outbox retry no-such-event
  expect_rc "outbox retry of an unknown event: NOT_FOUND (6)" 6

  # A relay pointed at a server without OrderService (UNIMPLEMENTED) that gives
  # up at once makes the next payment's event a dead letter. (An unreachable
  # order service would not do: UNAVAILABLE is retried and never dead-letters.)
  start_relay "$SANDBOX_ADDR" PAYONCE_RELAY_MAX_ATTEMPTS=1
  run --json order create --customer dora --amount-minor 1234 --currency EUR
  ORDER4=$(json 'd["order_id"]')
  run --json pay "$ORDER4"
  expect_rc "pay while the relay is cut off" 0
  if poll_json 20 "any(e['order_id'] == '$ORDER4' for e in d['events'])" --json outbox dead-letters; then
    pass "outbox dead-letters lists the undeliverable event"
  else
    fail "outbox dead-letters lists the undeliverable event" "not listed within 20 s"
  fi
  EVENT4=$($PY -c "import json,sys; d=json.load(sys.stdin); print([e['event_id'] for e in d['events'] if e['order_id'] == '$ORDER4'][0])" <<<"$OUT" 2>/dev/null)
  run outbox dead-letters --page-size 1
  expect_out "outbox dead-letters table" '^EVENT_ID +PAYMENT_ID +ORDER_ID'
  run --json outbox stats
  expect_json "outbox stats counts the dead letter" "int(d['dead_letters']) >= 1"

  start_relay "$ORDER_ADDR"
  run --json outbox retry "$EVENT4"
  expect_rc "outbox retry" 0
  expect_json "outbox retry puts the event back in line" \
    "d['event_id'] == '$EVENT4' and 'dead_lettered_at' not in d"
  run pay "$ORDER4" --wait-paid 20
  expect_rc "after the retry the order becomes PAID" 0
  run --json outbox retry "$EVENT4"
  expect_rc "outbox retry is idempotent" 0
fi

# --- summary -----------------------------------------------------------------

echo
summary="$PASSED passed, $FAILED failed"
((SKIPPED == 0)) || summary+=", $SKIPPED skipped"
echo "$summary"
((FAILED == 0))
