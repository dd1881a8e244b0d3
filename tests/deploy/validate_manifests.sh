#!/usr/bin/env bash
# Offline checks of PayOnce's deployment files (no container engine, no cluster):
#
#   tests/deploy/validate_manifests.sh
#
#  a. deploy/docker-compose.yml, interpolated with compose/payonce.env.example,
#     against the Compose Specification JSON schema (the copy the npm package
#     dclint ships);
#  b. deploy/k8s/overlays/{dev,prod}, rendered by tests/deploy/kustomize_lite.py
#     (and by `kubectl kustomize` where a kubectl with kustomize >= 4 exists: both
#     must give the same objects), every object against the Kubernetes API schemas
#     (npm kubernetes-models, @kubernetes-models/prometheus-operator) plus a check
#     that rejects unknown fields; then PayOnce's own rules (check_deploy.py:
#     replicas, hardening, probes, NetworkPolicy matrix, alert rules and
#     dashboard against the metrics the services export, ...);
#  c. the broken files in tests/deploy/testdata/broken must each be rejected
#     with the message their "# expect:" line gives.
# npm packages are installed with `npm ci` into tests/deploy/node_modules
# (git-ignored) when package-lock.json changed. Prints one line per check and
# "N passed, M failed"; exits 1 if any check failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=/usr/bin/python3
WORK=$(mktemp -d /tmp/payonce-validate.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0
skipped=0
failures=()

pass() {
  passed=$((passed + 1))
  echo "PASS $*"
}
fail() {
  failed=$((failed + 1))
  failures+=("$*")
  echo "FAIL $*"
}
# Runs a check; its output is shown when it fails (and its last line when it passes).
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    pass "$name${out:+ ($(tail -1 <<<"$out"))}"
  else
    fail "$name"
    printf '%s\n' "$out" | tail -30 | sed 's/^/    /'
  fi
}
# Runs a command that must fail, with EXPECT in its output.
check_rejects() {
  local name=$1 expect=$2 out
  shift 2
  if out=$("$@" 2>&1); then
    fail "$name: accepted"
  elif grep -qF -- "$expect" <<<"$out"; then
    pass "$name: rejected"
  else
    fail "$name: rejected, but not with \"$expect\""
    printf '%s\n' "$out" | tail -10 | sed 's/^/    /'
  fi
}

summary() {
  echo
  [[ $failed -gt 0 ]] && { echo "== failed:"; printf '  %s\n' "${failures[@]}"; }
  echo "validate_manifests: $passed passed, $failed failed$([[ $skipped -gt 0 ]] && echo ", $skipped skipped")"
  [[ $failed -eq 0 && $passed -gt 0 ]]
}

# Node.js, npm and PyYAML come from scripts/setup; this only checks for them.
prerequisites() {
  local missing=()
  command -v node >/dev/null || missing+=("node (Debian package nodejs)")
  command -v npm >/dev/null || missing+=("npm (Debian package npm)")
  "$PYTHON" -c 'import yaml' 2>/dev/null || missing+=("PyYAML for $PYTHON (Debian package python3-yaml)")
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "missing: ${missing[*]}; scripts/setup installs them" >&2
    return 1
  fi
  local stamp=$HERE/node_modules/.payonce-lock.sha256 want
  want=$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)
  if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    echo "$want" >"$stamp"
  fi
}

# kubectl whose embedded kustomize knows components (>= v4); none in Debian 12.
real_kustomize() {
  command -v kubectl >/dev/null || return 1
  local v
  v=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
  [[ -n $v && $v -ge 4 ]]
}

main() {
  cd "$ROOT" || exit 1
  if ! prerequisites; then
    fail "prerequisites (node, npm ci, python3-yaml)"
    summary
    exit 1
  fi

  echo "== a. compose file"
  check "compose: deploy/docker-compose.yml against the Compose Specification schema" \
    node "$HERE/validate.js" compose deploy/docker-compose.yml --env-file deploy/compose/payonce.env.example

  echo "== b. Kubernetes overlays"
  local o rendered=()
  for o in dev prod; do
    if "$PYTHON" "$HERE/kustomize_lite.py" "deploy/k8s/overlays/$o" >"$WORK/$o.yaml" 2>"$WORK/$o.err"; then
      pass "render overlays/$o with kustomize_lite ($(grep -c '^kind:' "$WORK/$o.yaml") objects)"
      rendered+=("$WORK/$o.yaml")
    else
      fail "render overlays/$o with kustomize_lite"
      sed 's/^/    /' "$WORK/$o.err"
    fi
    if real_kustomize; then
      if kubectl kustomize "deploy/k8s/overlays/$o" >"$WORK/$o.kubectl.yaml" 2>"$WORK/$o.kubectl.err"; then
        check "overlays/$o: kustomize_lite renders what kubectl kustomize renders" \
          "$PYTHON" "$HERE/kustomize_lite.py" "deploy/k8s/overlays/$o" --compare "$WORK/$o.kubectl.yaml"
      else
        fail "kubectl kustomize overlays/$o"
        sed 's/^/    /' "$WORK/$o.kubectl.err"
      fi
    else
      skipped=$((skipped + 1))
      echo "SKIP overlays/$o: no kubectl with kustomize >= 4 to compare with"
    fi
  done
  if [[ ${#rendered[@]} -eq 2 ]]; then
    check "k8s: every rendered object against the Kubernetes API schemas, no unknown fields" \
      node "$HERE/validate.js" k8s "${rendered[@]}"
    local line
    while IFS= read -r line; do
      case $line in
        "PASS "*) pass "rule: ${line#PASS }" ;;
        "FAIL "*) fail "rule: ${line#FAIL }" ;;
        *) echo "$line" ;;
      esac
    done < <("$PYTHON" "$HERE/check_deploy.py" "$ROOT" "$WORK/dev.yaml" "$WORK/prod.yaml" 2>&1 ||
      echo "FAIL check_deploy.py exited non-zero")
  fi

  echo "== c. broken files must be rejected"
  local f expect
  for f in "$HERE"/testdata/broken/*; do
    if [[ -d $f ]]; then
      expect=$(sed -n 's/^# expect: //p' "$f/kustomization.yaml")
      if "$PYTHON" "$HERE/kustomize_lite.py" "$f" >"$WORK/broken.yaml" 2>"$WORK/broken.err"; then
        check_rejects "rules: ${f#"$ROOT"/}" "$expect" \
          "$PYTHON" "$HERE/check_deploy.py" "$ROOT" "$WORK/dev.yaml" "$WORK/broken.yaml"
      else
        fail "render ${f#"$ROOT"/}"
        sed 's/^/    /' "$WORK/broken.err"
      fi
      continue
    fi
    expect=$(sed -n 's/^# expect: //p' "$f")
    case ${f##*/} in
      compose-*) check_rejects "compose: ${f#"$ROOT"/}" "$expect" \
        node "$HERE/validate.js" compose "$f" --env-file /dev/null ;;
      k8s-*) check_rejects "k8s: ${f#"$ROOT"/}" "$expect" node "$HERE/validate.js" k8s "$f" ;;
    esac
  done

  summary
}

main "$@"
