#!/bin/sh
# Interruptible jobs (issue 18) on a year of real hourly intensity: for 4 h,
# 12 h and 24 h jobs with 24 h and 48 h max wait in GB, DE-LU and
# US-CAL-CISO, carbonctl simulate with the single-window forecast policy and
# with --interruptible (1 h minimum segment, 2 min per resume), each with a
# perfect forecast and carbond's own. Each share of the oracle is against
# its own oracle: the best single window, or the cheapest segments, knowing
# the future. Prints one Markdown row per (zone, job, wait, forecast).
# Usage: bench/simulate_interruptible.sh [DATA_DIR] [YEAR] [JOBS] [BUILD_DIR]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$here/../shared/data/intensity/electricitymaps-hourly-via-green-dcc}
year=${2:-2023}
jobs=${3:-1000}
ctl=${4:-$here/build}/proto-less-api/carbonctl
echo "| zone | job | max wait | forecast | single window: saving | share of its oracle | interruptible: saving | share of its oracle | oracle saving | segments per job | seconds |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for z in GB DE-LU US-CAL-CISO; do
  trace=$data/$z/${z}_${year}_hourly.csv
  for d in 4h 12h 24h; do
    for w in 24h 48h; do
      for f in perfect own; do
        one=$("$ctl" -o json simulate --trace "$trace" --jobs "$jobs" --duration "$d" --max-wait "$w" --forecast "$f")
        seg=$("$ctl" -o json simulate --trace "$trace" --jobs "$jobs" --duration "$d" --max-wait "$w" --forecast "$f" \
          --interruptible --min-segment 1h --resume-overhead 2m)
        python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("| %s | %s | %s | %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.2f | %.2f |" % (
    sys.argv[3], a["duration"], a["max_wait"], a["forecast"], a["saving_pct"], 100 * a["share_of_oracle"],
    b["saving_pct"], 100 * b["share_of_oracle"], b["oracle_saving_pct"], b["mean_segments"], b["seconds"]))' \
          "$one" "$seg" "$z"
      done
    done
  done
done
