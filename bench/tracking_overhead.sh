#!/usr/bin/env bash
# Training time with energy tracking on and off, side by side: the CNN on
# 20,000 Fashion-MNIST images, one epoch, carbon-worker standalone. Each
# setting runs RUNS times (default 5), interleaved so drift hits all alike;
# medians and minima of the epoch's training time (samples / samples_per_s)
# and their ratios to tracking off. The spread of the "off" runs is printed:
# on a shared machine it is the floor below which no difference means anything.
#   usage: bench/tracking_overhead.sh [build/worker/carbon-worker] [RUNS]
set -euo pipefail
worker=${1:-build/worker/carbon-worker}
runs=${2:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/job.yaml" <<YAML
name: overhead
model: {arch: cnn, channels: [32, 64]}
data: {path: /usr/share/datasets/fashion-mnist, train_limit: 20000, test_limit: 1000}
train: {epochs: 1, batch_size: 64, threads: ${THREADS:-2}, seed: 1}
YAML
declare -A flags=([off]="--no-energy-tracking" [on-15s]="--measure-power-secs 15" [on-1s]="--measure-power-secs 1")
for r in $(seq "$runs"); do
  for s in off on-15s on-1s; do
    rm -rf "$dir/run"
    # shellcheck disable=SC2086
    "$worker" --job "$dir/job.yaml" --run-dir "$dir/run" ${flags[$s]} 2>/dev/null |
      grep '"event":"epoch"' | sed "s/^/$s /" >> "$dir/results"
  done
done
python3 - "$dir/results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    s, js = line.split(" ", 1)
    rows.setdefault(s, []).append(json.loads(js))
def train_s(e): return e["samples"] / e["samples_per_s"]
base = statistics.median(train_s(e) for e in rows["off"])
base_min = min(train_s(e) for e in rows["off"])
print(f"{'tracking':<8} {'median s':>8} {'vs off':>7} {'min s':>7} {'vs off':>7} {'samples':>7}  all runs (s)")
for s in ("off", "on-15s", "on-1s"):
    es = rows[s]
    t = statistics.median(train_s(e) for e in es)
    m = min(train_s(e) for e in es)
    n = statistics.median(e.get("energy", {}).get("samples", 0) for e in es)
    print(f"{s:<8} {t:>8.3f} {t / base:>7.4f} {m:>7.3f} {m / base_min:>7.4f} {n:>7.0f}  " +
          ", ".join(f"{train_s(e):.2f}" for e in es))
print(f"medians of {len(rows['off'])} runs each")
PY
