#!/usr/bin/env bash
# Verifies the systemd unit (systemd-analyze verify) and asserts an exposure
# score of 2.0 or lower (systemd-analyze security --offline=yes) with the
# NVIDIA device nodes still allowed for the worker (DeviceAllow).
# Usage: check_unit.sh BUILT_SYSTEMD_DIR CARBOND_BINARY
set -euo pipefail
unit_dir=$1
carbond=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The installed unit points at the installed binary; check it against this build.
sed -E "s#^ExecStart=[^ ]+#ExecStart=${carbond}#" "$unit_dir/carbond.service" > "$tmp/carbond.service"
cd "$tmp"
if ! out=$(systemd-analyze verify ./carbond.service 2>&1); then
  echo "systemd-analyze verify failed:"; echo "$out"; exit 1
fi
# verify prints warnings but exits 0 for some problems: treat any line about our unit as failure.
if grep -q "carbond.service" <<<"$out"; then
  echo "systemd-analyze verify complained:"; echo "$out"; exit 1
fi
sec=$(systemd-analyze security --offline=yes --no-pager ./carbond.service 2>&1 || true)
score=$(sed -n 's/.*Overall exposure level for carbond.service: \([0-9.]*\).*/\1/p' <<<"$sec")
if [[ -z "$score" ]]; then
  echo "could not read the exposure score:"; echo "$sec"; exit 1
fi
echo "systemd-analyze security: exposure $score (limit 2.0)"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "$sec"; exit 1; }
# The GPU stays reachable: no PrivateDevices, and the NVIDIA nodes allowed.
for dev in char-nvidia-frontend char-nvidia-uvm char-nvidia-caps; do
  grep -q "^DeviceAllow=$dev rw" carbond.service || { echo "DeviceAllow=$dev rw is missing"; exit 1; }
done
if grep -q "^PrivateDevices=yes" carbond.service; then echo "PrivateDevices=yes hides /dev/nvidia*"; exit 1; fi
echo "1 passed, 0 failed"
