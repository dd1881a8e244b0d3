#!/usr/bin/env bash
# Runs deploy/docker-compose.yml for real and pays an order through it.
#
#   tests/deploy/compose_stack_test.sh [BUILD_DIR]     (default: build)
#
# As root, on Debian 12, with the project built in BUILD_DIR. No container
# registry is reachable, so the engine and every image come from here:
#  1. Debian packages, installed by scripts/setup and checked here: podman
#     (runc, netavark) and docker-compose 1.29, which drives podman through its
#     Docker API socket; debootstrap.
#  2. tests/deploy/build_ci_images.sh: debian:bookworm-slim (debootstrap),
#     look-alikes of postgres:15 and redis:7, a Prometheus image.
#  3. The PayOnce image from BUILD_DIR's binaries (deploy/docker/Dockerfile.prebuilt).
#  4. compose up (Grafana's profile off: no Grafana image can be had) with
#     random secrets and free host ports, so it runs beside a local stack.
#     Podman runs no health checks without systemd: a poller here runs them.
#  5. Checks: health, `payonce order create` + `payonce pay --wait-paid`,
#     Prometheus targets all up, alert rules loaded, the flow's counters seen,
#     a clean SIGTERM exit of every process.
# Everything it started is removed at the end (images stay, as cache).
# Prints one line per check, the time of each phase, and "N passed, M failed".
# Exit 0: all passed; 1: a check failed; 2: usage; 77: skipped (not root).
set -uo pipefail

# shellcheck source=lib/podman.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/podman.sh"

BUILD_DIR=$(cd "${1:-$DEPLOY_REPO_ROOT/build}" 2>/dev/null && pwd) || {
  echo "compose_stack_test: build directory ${1:-$DEPLOY_REPO_ROOT/build} not found" >&2
  exit 2
}
CLI=$BUILD_DIR/services/cli/payonce
DEPLOY_DIR=$DEPLOY_REPO_ROOT/deploy
COMPOSE_FILE=$DEPLOY_DIR/docker-compose.yml
PROJECT=payonce-ci-$$
PAYONCE_IMAGE=localhost/payonce:ci
PROMETHEUS_IMAGE=localhost/payonce-ci/prometheus:debian
PAYONCE_PROCESSES=(order-service payment-service provider-sandbox outbox-relay reconciler)
MIGRATIONS=(migrate-order migrate-payment migrate-provider)
# Counters that exist only after their first event (the flow makes none).
METRICS_AFTER_FIRST_EVENT=(payonce_reconciler_repairs_total payonce_reconciler_open_anomalies)

WORK=$(mktemp -d /tmp/payonce-compose-test.XXXXXX)
ENV_FILE=$WORK/ci.env
API_SOCKET=$WORK/podman.sock
api_pid=""
poller_pid=""
passed=0
failed=0
failures=()
phases=()
t_start=$SECONDS
t_phase=$SECONDS

pass() {
  passed=$((passed + 1))
  echo "PASS $*"
}
fail() {
  failed=$((failed + 1))
  failures+=("$*")
  echo "FAIL $*"
}
# Runs a check command; its output is shown only when it fails.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$name"; else
    fail "$name"
    printf '%s\n' "$out" | tail -20 | sed 's/^/    /'
  fi
}
phase_done() {
  phases+=("$(printf '%-34s %4d s' "$1" $((SECONDS - t_phase)))")
  t_phase=$SECONDS
}

compose() {
  docker-compose --project-name "$PROJECT" --project-directory "$DEPLOY_DIR" \
    --file "$COMPOSE_FILE" --env-file "$ENV_FILE" "$@"
}

# The project's containers: NAME<TAB>SERVICE.
project_containers() {
  podman ps -a --filter "label=com.docker.compose.project=$PROJECT" \
    --format '{{.Names}}	{{index .Labels "com.docker.compose.service"}}'
}
container_of() { project_containers | awk -F'\t' -v s="$1" '$2 == s { print $1; exit }'; }

dump_diagnostics() {
  echo "---- diagnostics ($PROJECT)"
  podman ps -a --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}}  {{.Status}}'
  local name
  while IFS=$'\t' read -r name _; do
    echo "---- logs of $name"
    podman logs --tail 25 "$name" </dev/null 2>&1 | sed 's/^/    /'
  done < <(project_containers)
}

teardown() {
  local t0=$SECONDS
  if [[ -n $api_pid ]] && [[ -S $API_SOCKET ]]; then
    compose down --volumes --remove-orphans --timeout 20 >"$WORK/down.log" 2>&1 ||
      tail -5 "$WORK/down.log"
  fi
  # Whatever compose did not remove (a run killed half-way, say).
  podman ps -aq --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null |
    xargs -r podman rm -f -v >/dev/null 2>&1
  podman volume ls -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null |
    xargs -r podman volume rm -f >/dev/null 2>&1
  podman network ls -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null |
    xargs -r podman network rm -f >/dev/null 2>&1
  [[ -n $poller_pid ]] && kill "$poller_pid" 2>/dev/null && wait "$poller_pid" 2>/dev/null
  [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  rm -rf "$WORK"
  echo "teardown: $((SECONDS - t0)) s"
}

summary() {
  echo
  echo "== compose stack test: phases"
  printf '  %s\n' "${phases[@]}"
  printf '  %-34s %4d s\n' "total" $((SECONDS - t_start))
  if [[ $failed -gt 0 ]]; then
    echo "== failed checks:"
    printf '  %s\n' "${failures[@]}"
  fi
  echo "compose_stack: $passed passed, $failed failed"
}

finish() {
  local rc=$?
  teardown
  summary
  if [[ $failed -gt 0 || $passed -eq 0 ]]; then exit 1; fi
  exit "$rc"
}

abort() {
  fail "$*"
  [[ -n $api_pid ]] && dump_diagnostics
  exit 1
}

# Writes ENV_FILE: the checked-in example with random secrets, free host
# ports on 127.0.0.1, no Grafana, the images built here.
write_env_file() {
  local -a names=(PAYONCE_ORDER_GRPC_PORT PAYONCE_PAYMENT_GRPC_PORT PAYONCE_PROVIDER_GRPC_PORT
    PAYONCE_ORDER_METRICS_PORT PAYONCE_PAYMENT_METRICS_PORT PAYONCE_PROVIDER_METRICS_PORT
    PAYONCE_RELAY_METRICS_PORT PAYONCE_RECONCILER_METRICS_PORT PROMETHEUS_PORT GRAFANA_PORT)
  local -a ports
  read -r -a ports < <(python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "${#names[@]}")
  local -A value=(
    [COMPOSE_PROJECT_NAME]=$PROJECT [COMPOSE_PROFILES]=""
    [PAYONCE_IMAGE]=$PAYONCE_IMAGE [PROMETHEUS_IMAGE]=$PROMETHEUS_IMAGE
    [PAYONCE_PUBLISH_ADDR]=127.0.0.1 [PAYONCE_LOG_LEVEL]=info
  )
  local i key
  for i in "${!names[@]}"; do value[${names[$i]}]=${ports[$i]}; done
  for key in POSTGRES_PASSWORD PAYONCE_ORDER_DB_PASSWORD PAYONCE_PAYMENT_DB_PASSWORD \
    PAYONCE_PROVIDER_DB_PASSWORD PAYONCE_CALLBACK_SECRETS GRAFANA_ADMIN_PASSWORD; do
    value[$key]=ci-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  done
  local line out=()
  while IFS= read -r line; do
    key=${line%%=*}
    if [[ $line =~ ^[A-Z_]+= && -v value[$key] ]]; then
      out+=("$key=${value[$key]}")
      unset "value[$key]"
    else
      out+=("$line")
    fi
  done <"$DEPLOY_DIR/compose/payonce.env.example"
  for key in "${!value[@]}"; do out+=("$key=${value[$key]}"); done
  printf '%s\n' "${out[@]}" >"$ENV_FILE"
  # shellcheck disable=SC1090
  source "$ENV_FILE"
}

# Containers, volumes and networks of earlier runs that were killed before
# their teardown (project payonce-ci-PID whose PID is gone).
remove_stale_projects() {
  local project pid
  for project in $( (podman ps -a --format '{{index .Labels "com.docker.compose.project"}}'
    podman volume ls --format '{{index .Labels "com.docker.compose.project"}}') 2>/dev/null |
    grep -E '^payonce-ci-[0-9]+$' | sort -u); do
    pid=${project#payonce-ci-}
    kill -0 "$pid" 2>/dev/null && continue
    echo "removing leftovers of $project"
    podman ps -aq --filter "label=com.docker.compose.project=$project" | xargs -r podman rm -f -v >/dev/null 2>&1
    podman volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r podman volume rm -f >/dev/null 2>&1
    podman network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r podman network rm -f >/dev/null 2>&1
  done
}

start_api_service() {
  podman system service --time=0 "unix://$API_SOCKET" >"$WORK/podman-service.log" 2>&1 &
  api_pid=$!
  local deadline=$((SECONDS + 30))
  until curl -fsS --unix-socket "$API_SOCKET" http://d/_ping >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
  export DOCKER_HOST=unix://$API_SOCKET
}

# Podman runs health checks from systemd timers; without systemd nothing runs
# them, so compose's service_healthy would wait forever. This does it.
start_health_poller() {
  (
    while true; do
      podman ps -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null |
        while read -r id; do podman healthcheck run "$id" </dev/null >/dev/null 2>&1; done
      sleep 2
    done
  ) &
  poller_pid=$!
}

# Waits until SERVICE's container is healthy (running for those without a check).
wait_healthy() {
  local service=$1 deadline=$((SECONDS + $2)) name state health
  while ((SECONDS < deadline)); do
    name=$(container_of "$service")
    if [[ -n $name ]]; then
      state=$(podman inspect --format '{{.State.Status}}' "$name" 2>/dev/null)
      health=$(podman inspect --format '{{.State.Health.Status}}' "$name" 2>/dev/null)
      [[ $state == running && $health == healthy ]] && return 0
      [[ $state == exited ]] && { echo "$service exited"; return 1; }
    fi
    sleep 1
  done
  echo "$service: state=${state:-none} health=${health:-none}"
  return 1
}

exited_zero() {
  local name code
  name=$(container_of "$1")
  code=$(podman inspect --format '{{.State.ExitCode}} {{.State.Status}}' "$name")
  [[ $code == "0 exited" ]] || { echo "$1: $code"; return 1; }
}

image_libraries_resolve() {
  local out
  out=$(podman run --rm --no-healthcheck --entrypoint /bin/sh "$PAYONCE_IMAGE" -c \
    'for b in /usr/local/bin/*; do ldd "$b" | sed "s|^|$b: |"; done' 2>&1) || { echo "$out"; return 1; }
  ! grep 'not found' <<<"$out"
}

image_metadata() {
  local user health
  user=$(podman image inspect --format '{{.User}}' "$PAYONCE_IMAGE")
  health=$(podman image inspect --format '{{json .HealthCheck}}' "$PAYONCE_IMAGE")
  [[ $user == 10001:10001 ]] || { echo "user is '$user'"; return 1; }
  grep -q '"payonce","health","--addr"' <<<"$health" || { echo "healthcheck: $health"; return 1; }
}

cli() {
  "$CLI" --order-addr "127.0.0.1:$PAYONCE_ORDER_GRPC_PORT" \
    --payment-addr "127.0.0.1:$PAYONCE_PAYMENT_GRPC_PORT" \
    --sandbox-addr "127.0.0.1:$PAYONCE_PROVIDER_GRPC_PORT" --timeout-ms 5000 "$@"
}

pay_flow() {
  local created order_id
  created=$(cli --json order create --customer compose-ci --amount-minor 1999 --currency EUR \
    --description "compose stack test") || return 1
  order_id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["order_id"])' <<<"$created") ||
    return 1
  echo "order $order_id"
  cli pay "$order_id" --wait-paid 10 || return 1
  cli --json order get "$order_id" | grep -q '"ORDER_STATUS_PAID"'
}

prom() { curl -fsS --max-time 5 "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/$1" "${@:2}"; }

# Polls until every scrape target is up (the first scrapes may precede the
# processes: Prometheus does not wait for them).
prometheus_targets_up() {
  local deadline=$((SECONDS + 60)) report
  while ((SECONDS < deadline)); do
    report=$(prom targets | python3 -c '
import json, sys
want = set(sys.argv[1:]) | {"prometheus"}
targets = json.load(sys.stdin)["data"]["activeTargets"]
jobs = {t["labels"]["job"]: t for t in targets}
bad = []
for j in sorted(want):
    t = jobs.get(j)
    if t is None:
        bad.append(j + ": missing")
    elif t["health"] != "up":
        bad.append("%s: %s %s" % (j, t["health"], t.get("lastError", "")))
print("\n".join(bad) if bad else f"{len(targets)} targets up")
sys.exit(1 if bad else 0)' "${PAYONCE_PROCESSES[@]}") && { echo "$report"; return 0; }
    sleep 2
  done
  echo "$report"
  return 1
}

prometheus_rules_loaded() {
  prom rules | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [r["name"] for r in rules if r.get("health") != "ok"]
if len(groups) < 3 or not rules or bad:
    sys.exit(f"groups={len(groups)} rules={len(rules)} unhealthy={bad}")
print(f"{len(groups)} groups, {len(rules)} rules, all healthy")'
}

# The flow's effects reach Prometheus: one applied callback, one delivered
# outbox event (polled: at most one scrape interval behind).
prometheus_sees_flow() {
  local deadline=$((SECONDS + 30)) q
  for q in 'sum(payonce_callbacks_total{outcome="applied"})' \
    'sum(payonce_outbox_deliveries_total{result="delivered"})'; do
    until prom query --data-urlencode "query=$q" |
      python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; sys.exit(0 if r and float(r[0]["value"][1]) >= 1 else 1)'; do
      ((SECONDS < deadline)) || { echo "$q < 1"; return 1; }
      sleep 2
    done
    echo "$q >= 1"
  done
}

# Every metric the alert rules use is exported by some process.
alert_metrics_exist() {
  prom label/__name__/values >"$WORK/metric-names.json" || return 1
  /usr/bin/python3 - "$WORK/metric-names.json" "$DEPLOY_DIR/compose/prometheus/rules" \
    "${METRICS_AFTER_FIRST_EVENT[@]}" <<'EOF'
import json, pathlib, re, sys
import yaml
known = set(json.load(open(sys.argv[1]))["data"])
later = set(sys.argv[3:])
used = set()
for f in pathlib.Path(sys.argv[2]).glob("*.yml"):
    for group in yaml.safe_load(f.read_text())["groups"]:
        for rule in group["rules"]:
            used |= set(re.findall(r"\b((?:payonce|grpc_server|process)_[a-z0-9_]+)", rule["expr"]))
# A histogram is exported as NAME_bucket, NAME_sum and NAME_count.
missing = sorted(n for n in used - later
                 if n not in known and not {n + "_bucket", n + "_count"} & known)
if missing:
    sys.exit("not exported by any process: %s" % missing)
print("%d metric names used by the rules are exported" % len(used))
EOF
}

promtool_check() {
  podman run --rm --no-healthcheck --entrypoint promtool \
    -v "$DEPLOY_DIR/compose/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" \
    -v "$DEPLOY_DIR/compose/prometheus/rules:/etc/prometheus/rules:ro" \
    "$PROMETHEUS_IMAGE" check config /etc/prometheus/prometheus.yml
}

main() {
  trap finish EXIT
  trap 'exit 130' INT TERM
  if [[ $(id -u) -ne 0 ]]; then
    echo "compose_stack_test: skipped: needs root (apt, rootful podman)"
    trap - EXIT
    rm -rf "$WORK"
    exit 77
  fi
  [[ -x $CLI ]] || abort "CLI not built: $CLI"

  deploy_require_packages || abort "packages (scripts/setup installs them)"
  deploy_podman_env
  remove_stale_projects
  phase_done "packages"

  "$DEPLOY_TESTS_DIR/build_ci_images.sh" || abort "CI images (tests/deploy/build_ci_images.sh)"
  phase_done "base and third-party images"

  "$DEPLOY_DIR/docker/stage-binaries.sh" "$BUILD_DIR" "$WORK/stage" >/dev/null ||
    abort "stage binaries from $BUILD_DIR"
  podman build --quiet --pull=never --format docker \
    --build-arg "VERSION=$(git -C "$DEPLOY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo dev)" \
    -f "$DEPLOY_DIR/docker/Dockerfile.prebuilt" -t "$PAYONCE_IMAGE" "$WORK/stage" >/dev/null ||
    abort "build $PAYONCE_IMAGE (Dockerfile.prebuilt)"
  pass "image $PAYONCE_IMAGE built from Dockerfile.prebuilt"
  # The image this replaced (and any other untagged leftovers of these builds).
  podman image prune --force >/dev/null 2>&1
  check "image: every binary's shared libraries resolve" image_libraries_resolve
  check "image: user 10001, HEALTHCHECK payonce health" image_metadata
  check "promtool check config (rules included)" promtool_check
  phase_done "PayOnce image"

  write_env_file
  start_api_service || abort "podman API service"
  check "docker-compose config accepts the file" compose config --quiet
  start_health_poller
  # It returns once every dependency condition held; bounded in case one never does.
  timeout 600 docker-compose --project-name "$PROJECT" --project-directory "$DEPLOY_DIR" \
    --file "$COMPOSE_FILE" --env-file "$ENV_FILE" up --detach --no-build >"$WORK/up.log" 2>&1 || {
    cat "$WORK/up.log"
    abort "compose up"
  }
  local s ok=1
  for s in postgres redis "${PAYONCE_PROCESSES[@]}" prometheus; do
    if out=$(wait_healthy "$s" 180); then pass "$s healthy"; else fail "$s healthy: $out"; ok=0; fi
  done
  for s in "${MIGRATIONS[@]}"; do check "$s exited 0" exited_zero "$s"; done
  [[ $ok == 1 ]] || abort "stack not healthy"
  phase_done "compose up until healthy"

  check "payonce health (3 gRPC servers SERVING)" cli health
  check "pay flow: order create, pay --wait-paid 10, order PAID" pay_flow
  check "Prometheus: every target up" prometheus_targets_up
  check "Prometheus: alert rules loaded and healthy" prometheus_rules_loaded
  check "Prometheus: applied callback and delivered outbox event seen" prometheus_sees_flow
  check "Prometheus: metrics used by alert rules exist" alert_metrics_exist
  phase_done "flow and monitoring checks"

  compose stop --timeout 20 >/dev/null 2>&1
  for s in "${PAYONCE_PROCESSES[@]}"; do check "$s exits 0 on SIGTERM" exited_zero "$s"; done
  [[ $failed -eq 0 ]] || dump_diagnostics
  phase_done "graceful stop"
}

main "$@"
