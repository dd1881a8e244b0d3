#!/usr/bin/env bash
# Stages the PayOnce binaries of a host build tree as the build context of
# deploy/docker/Dockerfile.prebuilt: OUT_DIR/bin/<binary>, stripped.
#
#   deploy/docker/stage-binaries.sh BUILD_DIR OUT_DIR
#
# The build must come from Debian 12 (bookworm), the base of the runtime
# stage, so that the shared libraries match.
set -euo pipefail

BINARIES=(
  order/order-service
  payment/payment-service
  provider_sandbox/provider-sandbox
  outbox_relay/outbox-relay
  reconciler/reconciler
  migrate/payonce-migrate
  cli/payonce
)

if [[ $# -ne 2 ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
fi
build_dir=$1
out_dir=$2

missing=()
for rel in "${BINARIES[@]}"; do
  [[ -x $build_dir/services/$rel ]] || missing+=("$build_dir/services/$rel")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "stage-binaries: not built: ${missing[*]}" >&2
  exit 1
fi

mkdir -p "$out_dir/bin"
for rel in "${BINARIES[@]}"; do
  name=${rel##*/}
  # Debug info stays in the build tree; the image gets stripped copies.
  strip --strip-unneeded -o "$out_dir/bin/$name" "$build_dir/services/$rel"
  chmod 0755 "$out_dir/bin/$name"
done
echo "stage-binaries: ${#BINARIES[@]} binaries in $out_dir/bin ($(du -sh "$out_dir/bin" | cut -f1))"
