#!/usr/bin/env bash
# Verifies the systemd unit (systemd-analyze verify) and asserts an exposure
# score of 2.0 or lower (systemd-analyze security --offline=yes) with the
# NVIDIA device nodes still allowed for the worker (DeviceAllow).
# Then the same for carbond-gpucap's socket and service (root, two
# capabilities, no network): verified, exposure 3.0 or lower. Then the
# systemd --user unit (personal mode): verified, no --config.
# Usage: check_unit.sh BUILT_SYSTEMD_DIR CARBOND_BINARY GPUCAP_BINARY SOURCE_SYSTEMD_DIR
set -euo pipefail
unit_dir=$1
carbond=$2
gpucap=$3
src_dir=$4
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

sed -E "s#^ExecStart=[^ ]+#ExecStart=${gpucap}#" "$unit_dir/carbond-gpucap.service" > "$tmp/carbond-gpucap.service"
cp "$src_dir/carbond-gpucap.socket" "$tmp/"
if ! out=$(systemd-analyze verify ./carbond-gpucap.socket ./carbond-gpucap.service 2>&1) ||
   grep -q "carbond-gpucap" <<<"$out"; then
  echo "systemd-analyze verify complained about carbond-gpucap:"; echo "$out"; exit 1
fi
sec=$(systemd-analyze security --offline=yes --no-pager ./carbond-gpucap.service 2>&1 || true)
score=$(sed -n 's/.*Overall exposure level for carbond-gpucap.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[[ -n "$score" ]] || { echo "could not read carbond-gpucap's exposure score:"; echo "$sec"; exit 1; }
echo "systemd-analyze security carbond-gpucap.service: exposure $score (limit 3.0)"
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || { echo "$sec"; exit 1; }
grep -q '^CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_PTRACE$' carbond-gpucap.service ||
  { echo "carbond-gpucap.service must keep only CAP_SYS_ADMIN and CAP_SYS_PTRACE"; exit 1; }
grep -q '^SocketMode=0660$' carbond-gpucap.socket && grep -q '^SocketGroup=carbond$' carbond-gpucap.socket ||
  { echo "carbond-gpucap.socket must be 0660 for group carbond"; exit 1; }

# The systemd --user unit of personal mode: verified, and started with no --config.
mkdir -p "$tmp/user"
sed -E "s#^ExecStart=[^ ]+#ExecStart=${carbond}#" "$unit_dir/user/carbond.service" > "$tmp/user/carbond.service"
mkdir -p "$tmp/rt"
if ! out=$(cd "$tmp/user" && XDG_RUNTIME_DIR="$tmp/rt" systemd-analyze --user verify ./carbond.service 2>&1) || grep -q "carbond.service" <<<"$out"; then
  echo "systemd-analyze --user verify complained about the user unit:"; echo "$out"; exit 1
fi
grep -q "^ExecStart=${carbond}\$" "$tmp/user/carbond.service" ||
  { echo "the user unit must start carbond without --config (personal mode)"; exit 1; }
echo "3 passed, 0 failed"
