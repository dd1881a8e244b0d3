#!/usr/bin/env bash
# Builds, with podman, the third-party images that the compose stack test
# needs and that CI cannot pull (no container registry is reachable):
#
#   docker.io/library/debian:bookworm-slim  debootstrap --variant=minbase, slimmed
#                                           like the official image (no docs, man
#                                           pages, locales, apt caches)
#   docker.io/library/postgres:15           tests/deploy/images/postgres (Debian postgresql-15)
#   docker.io/library/redis:7               tests/deploy/images/redis (Debian redis-server 7.0)
#   localhost/payonce-ci/prometheus:debian  tests/deploy/images/prometheus (Debian prometheus)
#
#   tests/deploy/build_ci_images.sh
#
# The base image is made only when podman does not have it. Its root file
# system is cached as a tarball in $PAYONCE_CI_CACHE (default
# /var/cache/payonce-deploy, kept between CI runs on the same machine); without
# the cache debootstrap runs (about 2.5 minutes). PAYONCE_CI_REBUILD=1 ignores
# the image and the cache. The other images are rebuilt every time, from
# podman's layer cache when nothing changed.
set -euo pipefail

# shellcheck source=lib/podman.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/podman.sh"

BASE_IMAGE=docker.io/library/debian:bookworm-slim
POSTGRES_IMAGE=docker.io/library/postgres:15
REDIS_IMAGE=docker.io/library/redis:7
PROMETHEUS_IMAGE=localhost/payonce-ci/prometheus:debian
CACHE_DIR=${PAYONCE_CI_CACHE:-/var/cache/payonce-deploy}
MIRROR=${PAYONCE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${PAYONCE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
BASE_TARBALL=$CACHE_DIR/debian-bookworm-slim-rootfs.tar

# Removes from ROOTFS what the official slim image leaves out, and sets the
# same apt/dpkg configuration (debuerreotype's minimizing and slimify steps).
slim_rootfs() {
  local rootfs=$1
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# as in debian:*-slim: no documentation, man pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
  echo 'force-unsafe-io' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # What the excludes above would not have installed.
  local r=${rootfs:?}
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "${r:?}"/usr/share/{info,linda,man}/* "${r:?}/usr/share/lintian/overrides"/*
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "${r:?}"/var/cache/apt/* "${r:?}"/var/lib/apt/lists/* "${r:?}"/var/log/apt/* \
    "${r:?}"/var/cache/debconf/*-old "${r:?}"/var/lib/dpkg/*-old "${r:?}"/tmp/* \
    "${r:?}"/dev/* "${r:?}"/proc/* "${r:?}"/sys/*
  find "$rootfs/var/log" -type f -delete
  : >"$rootfs/etc/machine-id"
  : >"$rootfs/etc/resolv.conf"
  echo localhost >"$rootfs/etc/hostname"
}

# Makes the base root file system tarball with debootstrap.
make_base_tarball() {
  local work
  work=$(mktemp -d /var/tmp/payonce-debootstrap.XXXXXX)
  deploy_log "debootstrap --variant=minbase bookworm (no cached root file system in $CACHE_DIR)"
  if ! debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    rm -rf "$work"
    return 1
  fi
  slim_rootfs "$work/rootfs"
  mkdir -p "$CACHE_DIR"
  tar --numeric-owner --xattrs -C "$work/rootfs" -cf "$BASE_TARBALL.tmp" .
  mv "$BASE_TARBALL.tmp" "$BASE_TARBALL"
  rm -rf "$work"
}

build_base_image() {
  if [[ ${PAYONCE_CI_REBUILD:-0} == 1 ]]; then
    rm -f "$BASE_TARBALL"
  elif podman image exists "$BASE_IMAGE"; then
    deploy_log "base image $BASE_IMAGE: present"
    return 0
  fi
  [[ -s $BASE_TARBALL ]] || make_base_tarball
  deploy_log "base image $BASE_IMAGE: importing $BASE_TARBALL"
  podman import --quiet --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$BASE_TARBALL" "$BASE_IMAGE" >/dev/null
}

build_lookalike() {
  local tag=$1 dir=$2
  deploy_log "image $tag: podman build $dir"
  podman build --quiet --pull=never --format docker -t "$tag" "$DEPLOY_TESTS_DIR/images/$dir" >/dev/null
}

main() {
  deploy_require_packages
  deploy_podman_env
  local t0=$SECONDS
  build_base_image
  build_lookalike "$POSTGRES_IMAGE" postgres
  build_lookalike "$REDIS_IMAGE" redis
  build_lookalike "$PROMETHEUS_IMAGE" prometheus
  deploy_log "CI images ready in $((SECONDS - t0)) s"
}

main "$@"
