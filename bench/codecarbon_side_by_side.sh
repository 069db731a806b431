#!/usr/bin/env bash
# carbon-worker's CPU, RAM and total energy and power per epoch row, beside
# CodeCarbon's method measured on the same machine at the same time
# (bench/codecarbon_reproduction.py: CodeCarbon is not in Debian 12, so its
# method is reproduced in Python; where `python3 -c 'import codecarbon'`
# works, that is not used instead yet). Two runs of the same real training:
#   steady:  the worker alone;
#   varying: the worker paused (SIGSTOP) 5 s of every 10 s, an idle pause
#            inside and between epochs, so the load swings between busy and idle.
# Prints a markdown table per run: each epoch row's power and energy from
# both, and the relative difference. The first row is left out of the
# comparison: the two meters start at different moments (the worker after
# loading its data, the reproduction at launch).
#   bench/codecarbon_side_by_side.sh [EPOCHS]     (default 4)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-4}
worker=${CARBON_WORKER:-build/worker/carbon-worker}
data=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d /tmp/carbond-side-by-side.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/job.yaml" <<EOF
name: side-by-side
model: {arch: mlp, hidden: [512, 512]}
data: {path: $data, train_limit: 30000, test_limit: 2000}
train: {epochs: $epochs, batch_size: 64, threads: 1}
EOF

run() {
  local label=$1 pause=$2 dir=$tmp/$1
  mkdir -p "$dir"
  "$worker" --job "$tmp/job.yaml" --run-dir "$dir/run" --events-file "$dir/events" \
    --measure-power-secs 15 --cpu-power-csv configs/codecarbon/cpu_power.csv --gco2-per-kwh 100 \
    > "$dir/stdout" 2> "$dir/worker.log" &
  local pid=$!
  /usr/bin/python3 bench/codecarbon_reproduction.py "$dir/events" "$pid" configs/codecarbon/cpu_power.csv \
    "$dir/reference.json" &
  local ref=$!
  if [[ $pause == yes ]]; then
    while kill -0 "$pid" 2>/dev/null; do
      sleep 5; kill -STOP "$pid" 2>/dev/null || break
      sleep 5; kill -CONT "$pid" 2>/dev/null || break
    done
  fi
  wait "$pid"
  wait "$ref"
  /usr/bin/python3 - "$label" "$dir/run/emissions.csv" "$dir/reference.json" <<'PY'
import csv, json, sys
label, rows, ref = sys.argv[1], list(csv.DictReader(open(sys.argv[2]))), json.load(open(sys.argv[3]))
print(f"\n{label}: CPU '{ref['cpu_model']}', reference TDP {ref['tdp_w']:g} W, RAM {ref['ram_gib']:.1f} GiB -> {ref['ram_w']:g} W")
print("| row | seconds carbond / reference | CPU W carbond / reference (diff) | RAM W | CPU kWh diff | total kWh carbond / reference (diff) |")
print("|---|---|---|---|---|---|")
worst = 0.0
for i, (c, r) in enumerate(zip(rows, ref["rows"]), 1):
    d = lambda a, b: 100 * (a - b) / b if b else 0.0
    cpu_w, rcpu_w = float(c["cpu_power"]), r["cpu_w"]
    tot, rtot = float(c["cpu_energy"]) + float(c["ram_energy"]), r["cpu_kwh"] + r["ram_kwh"]
    note = " (first row: not compared)" if i == 1 else ""
    if i > 1:
        worst = max(worst, abs(d(cpu_w, rcpu_w)), abs(d(tot, rtot)), abs(d(float(c["cpu_energy"]), r["cpu_kwh"])))
    print(f"| {i}{note} | {float(c['duration']):.2f} / {r['seconds']:.2f} | {cpu_w:.3f} / {rcpu_w:.3f} ({d(cpu_w, rcpu_w):+.2f}%) "
          f"| {float(c['ram_power']):.2f} / {r['ram_w']:.2f} | {d(float(c['cpu_energy']), r['cpu_kwh']):+.2f}% "
          f"| {tot:.4e} / {rtot:.4e} ({d(tot, rtot):+.2f}%) |")
print(f"\n{label}: largest difference over rows 2-{len(rows)}: {worst:.2f}% (target: within 1%)")
PY
}

run steady no
run varying yes
