#!/usr/bin/env bash
# The README's test command: installs the Debian packages, builds with
# warnings as errors, and runs every test (unit, integration with real
# carbond/carbonctl processes, the real LibTorch worker, the systemd unit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure -j "${JOBS:-2}" --timeout 900
