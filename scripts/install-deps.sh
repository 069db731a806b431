#!/usr/bin/env bash
# Installs every Debian 12 package carbond needs to build, test and run its demo.
# Idempotent: packages already present are left alone. Run as root or with sudo.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libsqlite3-dev sqlite3 nlohmann-json3-dev libcli11-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtorch-dev libopenblas0-openmp dataset-fashion-mnist
  zlib1g-dev libssl-dev ca-certificates openssl systemd curl procps
  chromium  # renders carbonctl's HTML report in its test (headless screenshot)
  python3-pandas  # reads emissions.csv as CodeCarbon's dashboard does, in the real-worker test
  python3-torch  # Debian's PyTorch: the example script, torchrun and the command-job tests
  help2man lintian debootstrap  # the Debian package: man pages, its lint, the install test's chroot
  slurmctld slurmd slurm-client munge  # the Slurm tests' single-node cluster (tests/daemon/exec/slurm/start-cluster.sh)
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
