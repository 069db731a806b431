#!/usr/bin/env bash
# carbon-worker's CPU, RAM and total energy and power per epoch row, beside
# CodeCarbon's method measured on the same machine at the same time
# (bench/codecarbon_reproduction.py: CodeCarbon is not in Debian 12 and
# PyPI is out of reach here, so its method is reproduced in Python). Two runs
# of the same real training:
#   steady:  the worker alone;
#   varying: beside the worker (one thread), a second process busy 5 s of
#            every 10 s on the other CPU, so the machine's load swings between
#            one CPU busy and all of them, through epochs and between them.
#            (A SIGSTOPped worker would be no fair case: CodeCarbon measures
#            from inside the process it tracks, so a stopped process stops its
#            meter too, while the reproduction runs beside it.)
# Prints a markdown table per run: each epoch row's power and energy from
# both (the reference: the mean of four copies a quarter second apart, whose
# spread is shown), and the relative difference. The first row is left out of the
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
model: {arch: mlp, hidden: [1024, 1024]}
data: {path: $data, train_limit: 60000, test_limit: 2000}
train: {epochs: $epochs, batch_size: 64, threads: 1}
EOF

run() {
  local label=$1 neighbour=$2 dir=$tmp/$1
  mkdir -p "$dir"
  # Standalone (events on stdout): the worker writes emissions.csv itself.
  "$worker" --job "$tmp/job.yaml" --run-dir "$dir/run" \
    --measure-power-secs 15 --cpu-power-csv configs/codecarbon/cpu_power.csv --gco2-per-kwh 100 \
    > "$dir/events" 2> "$dir/worker.log" &
  local pid=$!
  # The reference four times, a quarter of a second apart: under a load that
  # changes within a second, where a meter's one-second grid falls moves its
  # figure, so the references' spread is the method's own reproducibility.
  local refs=()
  for k in 0 1 2 3; do
    ((k)) && sleep 0.25
    /usr/bin/python3 bench/codecarbon_reproduction.py "$dir/events" "$pid" configs/codecarbon/cpu_power.csv \
      "$dir/reference$k.json" &
    refs+=($!)
  done
  sleep 0.37  # the busy process starts off every reference's grid
  if [[ $neighbour == busy ]]; then
    while kill -0 "$pid" 2>/dev/null; do
      timeout 5 bash -c 'while :; do :; done' || true
      sleep 5
    done
  fi
  wait "$pid"
  wait "${refs[@]}"
  /usr/bin/python3 - "$label" "$dir/run/emissions.csv" "$dir"/reference{0,1,2,3}.json <<'PY'
import csv, json, sys
label, rows = sys.argv[1], list(csv.DictReader(open(sys.argv[2])))
refs = [json.load(open(p)) for p in sys.argv[3:]]
# The reference: the mean of the four phases, row by row.
n = min([len(rows)] + [len(r["rows"]) for r in refs])
mean = lambda key, i: sum(r["rows"][i][key] for r in refs) / len(refs)
ref = dict(refs[0], rows=[{k: mean(k, i) for k in ("seconds", "cpu_kwh", "ram_kwh", "cpu_w", "ram_w")} for i in range(n)])
print(f"\n{label}: CPU '{ref['cpu_model']}', reference TDP {ref['tdp_w']:g} W, RAM {ref['ram_gib']:.1f} GiB -> {ref['ram_w']:g} W")
print("| row | seconds carbond / reference | CPU W carbond / reference (diff) | RAM W | CPU kWh diff | total kWh carbond / reference (diff) | CPU W of the 4 references |")
print("|---|---|---|---|---|---|---|")
worst = floor = 0.0
d = lambda a, b: 100 * (a - b) / b if b else 0.0
for i, (c, r) in enumerate(zip(rows, ref["rows"]), 1):
    phases = [x["rows"][i - 1]["cpu_w"] for x in refs]
    cpu_w, rcpu_w = float(c["cpu_power"]), r["cpu_w"]
    tot, rtot = float(c["cpu_energy"]) + float(c["ram_energy"]), r["cpu_kwh"] + r["ram_kwh"]
    note = " (first row: not compared)" if i == 1 else ""
    if i > 1:
        worst = max(worst, abs(d(cpu_w, rcpu_w)), abs(d(tot, rtot)), abs(d(float(c["cpu_energy"]), r["cpu_kwh"])))
        floor = max(floor, 100 * (max(phases) - min(phases)) / rcpu_w)
    print(f"| {i}{note} | {float(c['duration']):.2f} / {r['seconds']:.2f} | {cpu_w:.3f} / {rcpu_w:.3f} ({d(cpu_w, rcpu_w):+.2f}%) "
          f"| {float(c['ram_power']):.2f} / {r['ram_w']:.2f} | {d(float(c['cpu_energy']), r['cpu_kwh']):+.2f}% "
          f"| {tot:.4e} / {rtot:.4e} ({d(tot, rtot):+.2f}%) | {min(phases):.3f}-{max(phases):.3f} |")
c_cpu = sum(float(c["cpu_energy"]) for c in rows[1:n])
r_cpu = sum(r["cpu_kwh"] for r in ref["rows"][1:n])
c_tot = sum(float(c["cpu_energy"]) + float(c["ram_energy"]) for c in rows[1:n])
r_tot = sum(r["cpu_kwh"] + r["ram_kwh"] for r in ref["rows"][1:n])
print(f"\n{label}: rows 2-{n}: largest difference of a row {worst:.2f}% (the four references span up to {floor:.2f}% of their mean); "
      f"summed: CPU energy {d(c_cpu, r_cpu):+.2f}%, total energy {d(c_tot, r_tot):+.2f}% (target: within 1%)")
PY
}

run steady none
run varying busy
