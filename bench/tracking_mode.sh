#!/usr/bin/env bash
# energy.tracking_mode against a busy neighbour (issue 21): the same job
# (the CNN on 10,000 Fashion-MNIST images, one epoch, 2 threads) run alone
# and beside a neighbour that keeps one core busy (a shell loop), in
# CodeCarbon's machine mode and in process mode. Each of the four settings
# runs RUNS times (default 3), interleaved; medians of the epoch's CPU
# energy, wall time and CPU power, and each mode's ratio busy/alone.
# Machine mode charges the job the neighbour's CPU work too; process mode
# charges it its own share. Run it on an otherwise idle machine.
#   usage: bench/tracking_mode.sh [build/worker/carbon-worker] [RUNS]
set -euo pipefail
worker=${1:-build/worker/carbon-worker}
runs=${2:-3}
dir=$(mktemp -d)
hog=
trap '[[ -n $hog ]] && kill $hog 2>/dev/null; rm -rf "$dir"' EXIT
cat > "$dir/job.yaml" <<YAML
name: tracking-mode
model: {arch: cnn, channels: [32, 64]}
data: {path: /usr/share/datasets/fashion-mnist, train_limit: 10000, test_limit: 1000}
train: {epochs: 1, batch_size: 64, threads: 2, device: cpu, seed: 1}
YAML
for r in $(seq "$runs"); do
  for setting in machine-alone process-alone machine-busy process-busy; do
    mode=${setting%-*}
    if [[ $setting == *-busy ]]; then
      bash -c 'while :; do :; done' &
      hog=$!
    fi
    rm -rf "$dir/run"
    "$worker" --job "$dir/job.yaml" --run-dir "$dir/run" --tracking-mode "$mode" --measure-power-secs 1 \
      --gco2-per-kwh 100 2>/dev/null | grep '"event":"epoch"' | sed "s/^/$setting /" >> "$dir/results"
    if [[ -n $hog ]]; then
      kill "$hog"
      wait "$hog" 2>/dev/null || true
      hog=
    fi
  done
done
python3 - "$dir/results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    s, js = line.split(" ", 1)
    rows.setdefault(s, []).append(json.loads(js))
med = lambda s, f: statistics.median(f(e) for e in rows[s])
print(f"{'setting':<15} {'runs':>4} {'CPU kWh':>11} {'wall s':>7} {'CPU W':>6} {'RAM W':>6}")
for s in ("machine-alone", "machine-busy", "process-alone", "process-busy"):
    print(f"{s:<15} {len(rows[s]):>4} {med(s, lambda e: e['energy']['cpu_kwh']):>11.3e} "
          f"{med(s, lambda e: e['energy']['seconds']):>7.2f} {med(s, lambda e: e['energy']['cpu_w']):>6.2f} "
          f"{med(s, lambda e: e['energy']['ram_w']):>6.2f}")
for m in ("machine", "process"):
    a, b = (med(f"{m}-{x}", lambda e: e['energy']['cpu_kwh']) for x in ("alone", "busy"))
    print(f"{m}: CPU energy busy/alone {b / a:.2f}")
PY
