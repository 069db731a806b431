#!/usr/bin/env bash
# Configures and builds carbond into ./build (Ninja, ccache when present).
# CARBON_WERROR=OFF to build without -Werror; BUILD_TYPE to change RelWithDebInfo;
# BUILD_DIR to build elsewhere; CMAKE_ARGS for more cache settings. The install
# prefix is /usr (configuration in /etc, the unit in /lib/systemd/system), the
# layout of the Debian package, which the packaging test makes from this build.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
build=${BUILD_DIR:-build}
if [[ -f $build/CMakeCache.txt ]] && ! grep -q "CMAKE_GENERATOR:INTERNAL=${generator[1]:-Unix Makefiles}" "$build/CMakeCache.txt"; then
  generator=()  # keep the generator the build folder was made with
fi
# shellcheck disable=SC2086 # CMAKE_ARGS is a list of -D settings
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DCARBON_WERROR="${CARBON_WERROR:-ON}" -DCMAKE_INSTALL_PREFIX=/usr ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "${JOBS:-2}"
