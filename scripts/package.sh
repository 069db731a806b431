#!/usr/bin/env bash
# Builds the Debian package from a Release build and prints its path last:
#   scripts/package.sh            # -> build/carbond_<version>_amd64.deb
# The Release build lives in build-release (no tests or benchmarks; Debian's
# hardening flags from dpkg-buildflags); the .deb is copied into build/.
# PACKAGE_VERSION=0.1.1 packages under another version (the upgrade test);
# BUILD_DIR=build packages the test build instead (stripped, same layout).
# docs/packaging.md says what is in the package and what lintian says of it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >&2
build=${BUILD_DIR:-build-release}
version=${PACKAGE_VERSION:-$(sed -n 's/^project(carbond VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}
if [[ $build == build-release ]]; then
  CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
  LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
  export CXXFLAGS LDFLAGS  # read by CMake when it first configures build-release
  BUILD_DIR=$build BUILD_TYPE=Release CMAKE_ARGS="-DCARBON_BUILD_TESTS=OFF -DCARBON_BUILD_BENCH=OFF" \
    scripts/build.sh >&2
fi
cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX=/usr -DCARBON_PACKAGE_VERSION="$version" >/dev/null
cmake --build "$build" -j "${JOBS:-2}" >&2   # the changelog names the version
(cd "$build" && cpack -G DEB >&2)
deb=$build/carbond_${version}_amd64.deb
[[ -f $deb ]] || { echo "package.sh: cpack made no $deb" >&2; exit 1; }
mkdir -p build
[[ $build == build ]] || cp "$deb" build/
echo "build/$(basename "$deb")"
