# Shared by the deploy test scripts (sourced): the container engine they use
# (podman with Debian's docker-compose through podman's Docker API), its
# settings for this kind of CI machine, and the packages it needs.
# shellcheck shell=bash

DEPLOY_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this
DEPLOY_REPO_ROOT=$(cd "$DEPLOY_TESTS_DIR/../.." && pwd)

# Debian packages of the compose stack test. scripts/setup installs them
# (check_deploy.py fails if one is missing from its list); this only checks.
DEPLOY_PACKAGES=(
  podman runc conmon catatonit netavark aardvark-dns iptables
  docker-compose debootstrap curl
)

deploy_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Fails, naming them, when some DEPLOY_PACKAGES are not installed.
deploy_require_packages() {
  local installed missing=() p
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${DEPLOY_PACKAGES[@]}" 2>/dev/null |
    awk '$2 == "installed" { print $1 }' || true)
  for p in "${DEPLOY_PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  deploy_log "missing Debian packages: ${missing[*]}; scripts/setup installs them (as root)"
  return 1
}

# Points podman (and its API service) at the settings in tests/deploy/podman.
deploy_podman_env() {
  export CONTAINERS_CONF=$DEPLOY_TESTS_DIR/podman/containers.conf
  export CONTAINERS_REGISTRIES_CONF=$DEPLOY_TESTS_DIR/podman/registries.conf
}
