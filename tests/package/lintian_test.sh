#!/usr/bin/env bash
# lintian on the package made from this build: no errors. The warnings it
# prints are the ones docs/packaging.md lists and explains; a new one fails
# this test until it is fixed or explained there.
# usage: lintian_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
command -v lintian >/dev/null || { echo "SKIPPED: lintian is not installed (scripts/install-deps.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp" > "$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; exit 1; }
deb=$(ls "$tmp"/carbond_*_amd64.deb)
# lintian refuses nothing as root but says so; its tags go to stdout.
lintian --pedantic --fail-on none "$deb" 2>/dev/null | sort -u > "$tmp/tags" || true
cat "$tmp/tags"
if grep -q '^E: ' "$tmp/tags"; then echo "FAILED: lintian reports errors"; exit 1; fi
status=0
while read -r level pkg tag rest; do
  [[ $level == W: || $level == E: ]] || continue
  grep -q "\`$tag\`" "$src/docs/packaging.md" || { echo "FAILED: warning $tag is not explained in docs/packaging.md"; status=1; }
done < "$tmp/tags"
((status == 0)) && echo "lintian: no errors; $(grep -c '^W: ' "$tmp/tags" || true) warnings, each explained in docs/packaging.md"
exit $status
