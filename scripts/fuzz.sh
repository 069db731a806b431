#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz) with clang, libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer in build-fuzz/ and runs each for SECONDS
# (default 600) from its seed corpus; the corpus it grows stays in
# build-fuzz/corpus/TARGET, crashes in build-fuzz/crashes/TARGET. Prints each
# target's executions and coverage.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   targets: job_spec http_api intensity_json trace_csv
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(job_spec http_api intensity_json trace_csv)
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCARBON_FUZZ=ON -DCARBON_BUILD_WORKER=OFF \
  -DCARBON_BUILD_BENCH=OFF -DCARBON_WERROR=OFF -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
ninja -C build-fuzz -j"${JOBS:-2}" $(printf 'fuzz_%s ' "${targets[@]}")
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
  mapfile -t seeds < "build-fuzz/tests/fuzz/seeds_$t.txt"
  log="build-fuzz/fuzz_$t.log"
  echo "== fuzz_$t for ${secs} s (log: $log)"
  if ! "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="build-fuzz/crashes/$t/" "build-fuzz/corpus/$t" "${seeds[@]}" >"$log" 2>&1; then
    echo "fuzz_$t FOUND A CRASH: see $log and build-fuzz/crashes/$t/"
    status=1
  fi
  grep -E "^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || tail -n 5 "$log"
done
exit $status
