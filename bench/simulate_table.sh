#!/usr/bin/env bash
# The simulator's results table for docs/benchmarks.md: for each zone's 2023
# Electricity Maps yearly CSV, 4 h jobs with a 24 h max wait, the saving
# against immediate and the share of the oracle's saving for: threshold 300,
# threshold at the zone's median, forecast with a perfect, a noisy (10%) and
# carbond's own forecast.
#   bench/simulate_table.sh DIR_OF_ZONES [JOBS]    (DIR: .../electricitymaps-hourly-via-green-dcc)
set -euo pipefail
dir=${1:?usage: bench/simulate_table.sh DIR_OF_ZONES [JOBS]}
jobs=${2:-2000}
ctl=${CARBONCTL:-build/proto-less-api/carbonctl}
echo "| zone | policy | saving vs immediate | oracle saving | share of oracle | mean delay | time |"
echo "|---|---|---|---|---|---|---|"
for zone in GB DE-LU US-CAL-CISO; do
  csv=$dir/$zone/${zone}_2023_hourly.csv
  # The LCA column (6th), as the trace source reads it by default.
  median=$(tail -n +2 "$csv" | cut -d, -f6 | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  run() {
    local label=$1; shift
    $ctl -o json simulate --trace "$csv" --jobs "$jobs" --duration 4h --max-wait 24h "$@" |
      awk -v zone="$zone" -v label="$label" -F': ' '
        /"saving_pct"/ {s=$2} /"oracle_saving_pct"/ {o=$2} /"share_of_oracle"/ {r=$2}
        /"mean_delay_h"/ {d=$2} /"seconds"/ {t=$2}
        END {gsub(/,/,"",s); gsub(/,/,"",o); gsub(/,/,"",r); gsub(/,/,"",d); gsub(/,/,"",t);
             printf "| %s | %s | %.1f%% | %.1f%% | %.1f%% | %.1f h | %.2f s |\n", zone, label, s, o, 100*r, d, t}'
  }
  run "threshold 300" --policy threshold --threshold 300
  run "threshold median ($median)" --policy threshold --threshold "$median"
  run "forecast, perfect" --policy forecast --forecast perfect
  run "forecast, noise 10%" --policy forecast --forecast noise:10%
  run "forecast, own forecaster" --policy forecast --forecast own
done
