#!/usr/bin/env bash
# Configures and builds carbond into ./build (Ninja, ccache when present).
# CARBON_WERROR=OFF to build without -Werror; BUILD_TYPE to change RelWithDebInfo.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [[ -f build/CMakeCache.txt ]] && ! grep -q "CMAKE_GENERATOR:INTERNAL=${generator[1]:-Unix Makefiles}" build/CMakeCache.txt; then
  generator=()  # keep the generator the build folder was made with
fi
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DCARBON_WERROR="${CARBON_WERROR:-ON}" >/dev/null
cmake --build build -j "${JOBS:-2}"
