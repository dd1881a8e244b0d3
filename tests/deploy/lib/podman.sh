# Shared by the deploy test scripts (sourced): the container engine they use
# (podman with Debian's docker-compose through podman's Docker API), its
# settings for this kind of CI machine, and the packages it needs.
# shellcheck shell=bash

DEPLOY_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this
DEPLOY_REPO_ROOT=$(cd "$DEPLOY_TESTS_DIR/../.." && pwd)

# Debian packages of the compose stack test. scripts/setup does not list them
# (yet); this installs what is missing, as scripts/setup would.
DEPLOY_PACKAGES=(
  podman runc conmon catatonit netavark aardvark-dns iptables
  docker-compose debootstrap curl
)

deploy_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Installs the missing DEPLOY_PACKAGES (root only; apt waits for a held lock).
deploy_install_packages() {
  local installed missing=() p
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${DEPLOY_PACKAGES[@]}" 2>/dev/null |
    awk '$2 == "installed" { print $1 }' || true)
  for p in "${DEPLOY_PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    deploy_log "missing packages ${missing[*]} and not root: install them first"
    return 1
  fi
  deploy_log "installing ${missing[*]}"
  local -a apt_opts=(-q -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 -o Dpkg::Use-Pty=0
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  export DEBIAN_FRONTEND=noninteractive
  apt-get "${apt_opts[@]}" update </dev/null >/dev/null
  apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null >/dev/null
}

# Points podman (and its API service) at the settings in tests/deploy/podman.
deploy_podman_env() {
  export CONTAINERS_CONF=$DEPLOY_TESTS_DIR/podman/containers.conf
  export CONTAINERS_REGISTRIES_CONF=$DEPLOY_TESTS_DIR/podman/registries.conf
}
