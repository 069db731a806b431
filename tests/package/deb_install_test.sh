#!/usr/bin/env bash
# The Debian package on a fresh Debian 12: builds two .debs from this build
# (cpack; the second with a higher version), then in a chroot of a Debian 12
# minbase made by debootstrap: installs the first with apt-get (no systemd in
# the chroot, no Recommends: the adduser/install -d path), checks the user, directories,
# conffile, unit, man pages and completion; starts carbond as user carbond
# with the packaged config; submits a job as root, as a member of group
# carbond (allowed) and as another user (refused by the socket's mode);
# installs systemd and upgrades to the second package while the jobs wait
# (the systemd-sysusers/tmpfiles path; systemd-analyze verify on the unit);
# restarts carbond, which keeps the jobs and the current schema; removes
# (configuration and state kept) and purges (both gone). Then, in a second
# copy of the chroot without /proc (an image build), installs systemd and the
# package in one transaction: it must configure.
#
# usage: deb_install_test.sh BUILD_DIR SOURCE_DIR
# Exit 77 (skipped, with the reason) when not root or when debootstrap cannot
# make the chroot (no Debian archive reachable). The minbase chroot and the
# downloaded .debs are cached under CARBON_TEST_CACHE (default
# /var/cache/carbond-tests) so later runs need no download.
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*"; exit 1; }
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }

[[ $(id -u) == 0 ]] || skip "needs root (debootstrap, chroot, mounts)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/install-deps.sh installs it)"

cache=${CARBON_TEST_CACHE:-/var/cache/carbond-tests}
mkdir -p "$cache/archives/partial"
base=$cache/bookworm-minbase
# The archive this machine uses (deb822 sources, else the one-line format).
# (Either file may be missing: a debootstrapped Debian has only sources.list.)
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 || true)
[[ -n $mirror ]] ||
  mirror=$(sed -n 's/^deb  *\(http[^ ]*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
(
  flock 9
  if [[ ! -x $base/bin/bash ]]; then
    rm -rf "$base.new"
    echo "debootstrap --variant=minbase bookworm (once; cached in $base)"
    if ! debootstrap --variant=minbase bookworm "$base.new" "$mirror" > "$cache/debootstrap.log" 2>&1; then
      tail -5 "$cache/debootstrap.log"
      exit 77
    fi
    mv "$base.new" "$base"
  fi
) 9>"$cache/lock" || skip "debootstrap could not make a Debian 12 chroot from $mirror (log: $cache/debootstrap.log)"

tmp=$(mktemp -d /tmp/carbond-deb-test.XXXXXX)
root=$tmp/root
mounted=()
cleanup() {
  # Stop anything still running inside the chroot, then unmount before
  # deleting: a bind mount left in place would take the host's files with it.
  for p in $(pgrep -x carbond || true) $(pgrep -x carbon-worker || true); do
    [[ $(readlink "/proc/$p/root" 2>/dev/null) == "$root" ]] && kill -KILL "$p" 2>/dev/null || true
  done
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true; done
  for m in "${mounted[@]}"; do mountpoint -q "$m" && { echo "still mounted: $m; leaving $tmp"; return; }; done
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# The packages: this build under its version, and again under a higher one.
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
[[ -n $version ]] || fail "no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake"
newer="$version+upgrade1"
for v in "$version" "$newer"; do
  cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/pkg-$v" -D CPACK_PACKAGE_VERSION="$v" \
    > "$tmp/cpack-$v.log" 2>&1 || { cat "$tmp/cpack-$v.log"; fail "cpack $v"; }
done
deb1=$tmp/pkg-$version/carbond_${version}_amd64.deb
deb2=$tmp/pkg-$newer/carbond_${newer}_amd64.deb
[[ -f $deb1 && -f $deb2 ]] || fail "cpack made no $deb1 or $deb2"
dpkg --compare-versions "$newer" gt "$version" || fail "$newer is not higher than $version"
ok "built $(basename "$deb1") and $(basename "$deb2")"

echo "copying the chroot"
cp -a "$base" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
for m in proc dev dev/pts var/cache/apt/archives; do mkdir -p "$root/$m"; done
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount --bind /dev "$root/dev" && mounted+=("$root/dev")
mount --bind /dev/pts "$root/dev/pts" && mounted+=("$root/dev/pts")
mount --bind "$cache/archives" "$root/var/cache/apt/archives" && mounted+=("$root/var/cache/apt/archives")
cp "$deb1" "$deb2" "$root/tmp/"
# A command in the chroot with a clean environment (exec all the way: $! of
# "${chroot_env[@]}" CMD & is CMD's own pid).
chroot_env=(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
in_root() { "${chroot_env[@]}" "$@"; }
as_user() { local u=$1; shift; in_root setpriv --reuid="$u" --regid="$u" --init-groups "$@"; }
apt_get() {
  in_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0 \
    -o APT::Keep-Downloaded-Packages=true "$@" > "$tmp/apt.log" 2>&1 || { tail -30 "$tmp/apt.log"; fail "apt-get $*"; }
}

# Without Recommends first: they would bring systemd (dbus-user-session ->
# libpam-systemd), and this install is to take the path without it. The job
# data and sqlite3 (both Recommends) are named instead.
echo "apt-get update; apt-get install --no-install-recommends ./$(basename "$deb1") sqlite3 dataset-fashion-mnist"
apt_get update
apt_get install --no-install-recommends "/tmp/$(basename "$deb1")" sqlite3 dataset-fashion-mnist
in_root test ! -d /run/systemd/system || fail "the chroot should have no running systemd"
in_root test ! -x /usr/bin/systemd-sysusers || fail "systemd got installed with the package; the adduser path is untested"
ok "apt-get install of the package and its dependencies"

# --- installed without systemd: adduser and install -d made the user and folders
in_root getent passwd carbond | grep -q '^carbond:x:[0-9]*:[0-9]*:.*:/var/lib/carbond:/usr/sbin/nologin$' ||
  fail "user carbond: $(in_root getent passwd carbond || echo missing)"
in_root getent group carbond >/dev/null || fail "no group carbond"
ok "system user and group carbond"
check_dir() {  # path mode owner
  local got
  got=$(in_root stat -c '%a %U:%G' "$1") || fail "$1 is missing"
  [[ $got == "$2 $3" ]] || fail "$1 is '$got', want '$2 $3'"
}
check_dir /var/lib/carbond 750 carbond:carbond
check_dir /run/carbond 750 carbond:carbond
check_dir /etc/carbond 755 root:root
ok "/var/lib/carbond, /run/carbond, /etc/carbond with their modes and owners"
in_root dpkg-query -W -f='${Conffiles}\n' carbond | grep -q '^ /etc/carbond/carbond.yaml [0-9a-f]\{32\}$' ||
  fail "/etc/carbond/carbond.yaml is not a conffile: $(in_root dpkg-query -W -f='${Conffiles}' carbond)"
in_root carbond --check-config --config /etc/carbond/carbond.yaml | grep -q "configuration OK" || fail "packaged config"
ok "conffile /etc/carbond/carbond.yaml, valid"
for f in /lib/systemd/system/carbond.service /usr/lib/sysusers.d/carbond.conf /usr/lib/tmpfiles.d/carbond.conf \
  /usr/share/man/man1/carbond.1.gz /usr/share/man/man1/carbonctl.1.gz /usr/share/man/man1/carbon-worker.1.gz \
  /usr/share/bash-completion/completions/carbonctl /usr/share/doc/carbond/copyright \
  /usr/share/doc/carbond/changelog.gz /usr/share/carbond/examples/jobs/fashion-mnist-carbon-aware.yaml \
  /usr/share/carbond/codecarbon/cpu_power.csv /usr/bin/carbond /usr/bin/carbonctl /usr/bin/carbon-worker \
  /usr/lib/python3/dist-packages/carbond/__init__.py /usr/lib/systemd/user/carbond.service \
  /usr/share/doc/carbond/examples/pytorch/train_fashion_mnist.py /usr/share/carbond/examples/jobs/pytorch-script.yaml; do
  in_root test -s "$f" || fail "$f is missing or empty"
done
in_root test -L /etc/systemd/system/multi-user.target.wants/carbond.service ||
  fail "deb-systemd-helper did not enable carbond.service"
in_root sh -c 'zcat /usr/share/man/man1/carbonctl.1.gz' | grep -q '^\.SS submit' || fail "carbonctl(1) has no submit section"
ok "unit (enabled), sysusers/tmpfiles snippets, man pages, completion, docs, examples, binaries"
in_root ldd /usr/bin/carbon-worker | grep -q 'not found' && fail "carbon-worker misses libraries: $(in_root ldd /usr/bin/carbon-worker | grep 'not found')"
in_root carbon-worker --help | grep -q -- "--job" || fail "carbon-worker --help"
ok "every library of carbon-worker is installed (Depends from the binaries)"

# --- carbond as user carbond, with the packaged configuration (no systemd as PID 1)
start_carbond() {
  # Not through in_root: a function in the background is a subshell, and $!
  # must be carbond itself (chroot, env and setpriv each exec the next).
  "${chroot_env[@]}" setpriv --reuid=carbond --regid=carbond --init-groups \
    /usr/bin/carbond --config /etc/carbond/carbond.yaml >> "$tmp/carbond.log" 2>&1 &
  carbond_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    in_root carbonctl health > /dev/null 2>&1 && return
    kill -0 "$carbond_pid" 2>/dev/null || { cat "$tmp/carbond.log"; fail "carbond exited"; }
    sleep 0.2
  done
  cat "$tmp/carbond.log"; fail "carbond did not serve its socket in 20 s"
}
stop_carbond() {
  kill -TERM "$carbond_pid" 2>/dev/null || { tail -20 "$tmp/carbond.log"; fail "carbond exited before it was stopped"; }
  wait "$carbond_pid" || true
}
start_carbond
[[ $(in_root stat -c '%a %U:%G' /run/carbond/carbond.sock) == "660 carbond:carbond" ]] ||
  fail "socket is $(in_root stat -c '%a %U:%G' /run/carbond/carbond.sock), want 660 carbond:carbond"
# By number: the host may give the chroot's carbond uid another name.
[[ $(stat -c %u "/proc/$carbond_pid") == "$(in_root id -u carbond)" &&
   $(readlink "/proc/$carbond_pid/exe") == "$root/usr/bin/carbond" ]] ||
  fail "process $carbond_pid is not carbond running as carbond"
ok "carbond runs as carbond; socket 0660 carbond:carbond"

in_root useradd -m alice
in_root useradd -m bob
in_root usermod -aG carbond alice
cat > "$root/tmp/waits.yaml" <<'YAML'
name: packaged-waits
model: {arch: mlp, hidden: [16]}
data: {path: /usr/share/datasets/fashion-mnist, train_limit: 100, test_limit: 100}
train: {epochs: 1, batch_size: 32, device: cpu}
carbon: {policy: threshold, threshold_gco2_per_kwh: 1, max_wait: 48h}
YAML
chmod 644 "$root/tmp/waits.yaml"
id_root=$(in_root carbonctl submit /tmp/waits.yaml)
[[ $id_root =~ ^[0-9]+$ ]] || fail "root could not submit"
id_alice=$(as_user alice carbonctl submit /tmp/waits.yaml)
[[ $id_alice =~ ^[0-9]+$ ]] || fail "alice (group carbond) could not submit"
ok "submitted as root (job $id_root) and as alice in group carbond (job $id_alice)"
if out=$(as_user bob carbonctl submit /tmp/waits.yaml 2>&1); then
  fail "bob, not in group carbond, could submit: $out"
fi
grep -qi "permission denied" <<<"$out" || fail "bob's refusal does not say why: $out"
ok "bob, not in group carbond, is refused: $(head -1 <<<"$out")"
job_state() { in_root sqlite3 -readonly /var/lib/carbond/carbond.db "SELECT state FROM jobs WHERE id = $1"; }
for id in "$id_root" "$id_alice"; do
  for ((i = 0; i < 50; i++)); do [[ $(job_state "$id") == waiting ]] && break; sleep 0.2; done
  [[ $(job_state "$id") == waiting ]] || fail "job $id is '$(job_state "$id")', want waiting"
done
ok "both jobs wait for a grid under 1 g/kWh"

# --- upgrade while the jobs wait; with systemd installed now (sysusers/tmpfiles path)
apt_get install systemd
in_root systemd-analyze verify /lib/systemd/system/carbond.service > "$tmp/verify.log" 2>&1 ||
  { cat "$tmp/verify.log"; fail "systemd-analyze verify carbond.service"; }
grep -q "carbond.service" "$tmp/verify.log" && { cat "$tmp/verify.log"; fail "systemd-analyze verify complained"; }
ok "systemd-analyze verify /lib/systemd/system/carbond.service"
echo "# edited by the administrator" >> "$root/etc/carbond/carbond.yaml"
apt_get install "/tmp/$(basename "$deb2")"
[[ $(in_root dpkg-query -W -f='${Version}' carbond) == "$newer" ]] || fail "carbond is not at $newer after the upgrade"
grep -q "^# edited by the administrator" "$root/etc/carbond/carbond.yaml" || fail "the upgrade replaced the edited conffile"
check_dir /var/lib/carbond 750 carbond:carbond
ok "upgraded to $newer with carbond running; the edited configuration kept"
# No systemd as PID 1 here, so the postinst cannot restart carbond: do what
# its `deb-systemd-invoke restart` does (SIGTERM, then the new binary).
stop_carbond
[[ $(readlink "/proc/$carbond_pid/exe" 2>/dev/null) == "" ]] || fail "the old carbond did not stop"
start_carbond
grep -q "carbond $newer ready\|carbond [0-9.]* ready" <(tail -5 "$tmp/carbond.log") || fail "the new carbond did not start"
for id in "$id_root" "$id_alice"; do
  [[ $(job_state "$id") == waiting ]] || fail "after the upgrade job $id is '$(job_state "$id")', want waiting"
done
schema=$(in_root sqlite3 -readonly /var/lib/carbond/carbond.db 'PRAGMA user_version')
latest=$(find "$src/migrations" -name '[0-9]*.sql' -printf '%f\n' | sort | tail -1 | sed 's/^0*\([0-9]*\)_.*/\1/')
[[ $schema == "$latest" ]] || fail "schema version $schema after the upgrade, want $latest"
ok "after the restart both jobs still wait; schema version $schema is current"
stop_carbond

# --- remove keeps the configuration and the state; purge deletes them
apt_get remove carbond
in_root test ! -e /usr/bin/carbond || fail "carbond still installed after remove"
in_root test -f /etc/carbond/carbond.yaml || fail "remove deleted the configuration"
in_root test -f /var/lib/carbond/carbond.db || fail "remove deleted the database"
ok "remove: binaries gone, /etc/carbond/carbond.yaml and /var/lib/carbond/carbond.db kept"
apt_get purge carbond
for d in /etc/carbond /var/lib/carbond; do in_root test ! -e "$d" || fail "purge left $d"; done
in_root test ! -e /etc/systemd/system/multi-user.target.wants/carbond.service || fail "purge left the unit enabled"
ok "purge: /etc/carbond and /var/lib/carbond gone, the unit forgotten"

# --- an image build: systemd and the package in one transaction, in a root
# without /proc (debootstrap and mmdebstrap roots, some CI chroots), where
# systemd-tmpfiles refuses to run: the package still configures, with its
# user and folders (issue 39).
noproc=$tmp/noproc
echo "copying the chroot again, without /proc"
cp -a "$base" "$noproc"
cp /etc/resolv.conf "$noproc/etc/resolv.conf" 2>/dev/null || true
for m in dev var/cache/apt/archives; do mkdir -p "$noproc/$m"; done
mount --bind /dev "$noproc/dev" && mounted+=("$noproc/dev")
mount --bind "$cache/archives" "$noproc/var/cache/apt/archives" && mounted+=("$noproc/var/cache/apt/archives")
cp "$deb1" "$noproc/tmp/"
in_noproc() { chroot "$noproc" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
in_noproc test ! -e /proc/self || fail "the second chroot should have no /proc"
in_noproc env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0 -o APT::Keep-Downloaded-Packages=true \
  update > "$tmp/apt-noproc.log" 2>&1 || { tail -30 "$tmp/apt-noproc.log"; fail "apt-get update without /proc"; }
in_noproc env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0 -o APT::Keep-Downloaded-Packages=true \
  install --no-install-recommends systemd "/tmp/$(basename "$deb1")" >> "$tmp/apt-noproc.log" 2>&1 ||
  { tail -30 "$tmp/apt-noproc.log"; fail "apt-get install systemd and the package in one transaction without /proc"; }
in_noproc dpkg-query -W -f='${Status}\n' carbond | grep -q '^install ok installed$' ||
  fail "carbond is not configured: $(in_noproc dpkg-query -W -f='${Status}' carbond)"
in_noproc test -x /usr/bin/systemd-tmpfiles || fail "systemd was not installed in the same transaction"
in_noproc getent passwd carbond >/dev/null || fail "no user carbond without /proc"
got=$(in_noproc stat -c '%a %U:%G' /var/lib/carbond) || fail "/var/lib/carbond is missing without /proc"
[[ $got == "750 carbond:carbond" ]] || fail "/var/lib/carbond is '$got' without /proc"
ok "systemd and the package in one transaction without /proc: configured, user and folders made"
echo "$pass passed, 0 failed"
