#!/bin/sh
# Placement over several zones (issue 17) on a year of real hourly intensity:
# carbonctl simulate with ZONE=FILE traces, 4 h jobs, 24 h max wait, 2,000
# jobs, for GB+DE-LU, GB+DE-LU+US-CAL-CISO and all seven zones, with a
# perfect, a 10%-noise and carbond's own forecast, without a slot limit and
# with 2 slots per zone. Prints one Markdown row per run.
# Usage: bench/simulate_sites.sh [DATA_DIR] [YEAR] [BUILD_DIR]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$here/../shared/data/intensity/electricitymaps-hourly-via-green-dcc}
year=${2:-2023}
ctl=${3:-$here/build}/proto-less-api/carbonctl
t() { for z in "$@"; do printf -- '--trace %s=%s/%s/%s_%s_hourly.csv ' "$z" "$data" "$z" "$z" "$year"; done; }
echo "| zones | forecast | slots per zone | saving vs at once in the first zone | time only | best fixed zone | oracle | share of the space-time oracle | placed | seconds |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for set in "GB DE-LU" "GB DE-LU US-CAL-CISO" "GB DE-LU US-CAL-CISO AU-NSW CA-ON US-MIDA-PJM US-TEX-ERCO"; do
  for f in perfect noise:10% own; do
    for slots in 0 2; do
      # shellcheck disable=SC2046
      "$ctl" -o json simulate $(t $set) --jobs 2000 --duration 4h --max-wait 24h --forecast "$f" \
        --slots-per-site "$slots" | python3 -c '
import json, sys
r = json.load(sys.stdin)
placed = ", ".join("%s %d%%" % (z, round(100 * f)) for z, f in r["zone_share"].items() if f > 0)
print("| %s | %s | %s | %.1f%% | %.1f%% | %s %.1f%% | %.1f%% | %.1f%% | %s | %.1f |" % (
    "+".join(r["zones"]), sys.argv[1], sys.argv[2] if sys.argv[2] != "0" else "no limit", r["saving_pct"],
    r["time_only_saving_pct"], r["best_fixed_zone"], r["best_fixed_zone_saving_pct"], r["oracle_saving_pct"],
    100 * r["share_of_oracle"], placed, r["seconds"]))' "$f" "$slots"
    done
  done
done
