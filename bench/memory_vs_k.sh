#!/usr/bin/env bash
# Peak memory and throughput against the gradient-accumulation factor k at the
# same effective batch (256): CNN on 6,000 Fashion-MNIST images, one epoch,
# carbon-worker standalone. Each k runs RUNS times (default 3), alternating;
# medians are printed.
#
# What "memory that training adds" means here: on CPU, the worker's peak RSS
# during the epoch (VmHWM, reset through /proc/self/clear_refs at the epoch's
# start) minus its RSS at that start (model, data and optimizer already in
# memory); on CUDA, the caching allocator's peak of allocated bytes minus the
# bytes allocated at the epoch's start.
#   usage: bench/memory_vs_k.sh [build/worker/carbon-worker] [RUNS]
set -euo pipefail
worker=${1:-build/worker/carbon-worker}
runs=${2:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for k in 1 2 4 8; do
  cat > "$dir/k$k.yaml" <<YAML
name: mem-k$k
model: {arch: cnn, channels: [32, 64]}
data: {path: /usr/share/datasets/fashion-mnist, train_limit: 6000, test_limit: 1000}
train: {epochs: 1, batch_size: 256, accumulation_steps: $k, threads: ${THREADS:-2}, seed: 1}
YAML
done
for r in $(seq "$runs"); do
  for k in 1 2 4 8; do
    rm -rf "$dir/run"
    "$worker" --job "$dir/k$k.yaml" --run-dir "$dir/run" 2>/dev/null |
      grep '"event":"epoch"' | sed "s/^/$k /" >> "$dir/results"
  done
done
python3 - "$dir/results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, js = line.split(" ", 1)
    rows.setdefault(int(k), []).append(json.loads(js))
base = statistics.median(e["memory_added_bytes"] for e in rows[1])
print(f"{'k':>2} {'micro':>5} {'added MB':>9} {'vs k=1':>7} {'peak MB':>8} {'samples/s':>9} {'accuracy':>8}  (medians of {len(rows[1])} runs)")
for k in sorted(rows):
    es = rows[k]
    added = statistics.median(e["memory_added_bytes"] for e in es)
    print(f"{k:>2} {256 // k:>5} {added / 2**20:>9.1f} {added / base:>7.2f} "
          f"{statistics.median(e['peak_memory_bytes'] for e in es) / 2**20:>8.1f} "
          f"{statistics.median(e['samples_per_s'] for e in es):>9.0f} "
          f"{statistics.median(e['test_accuracy'] for e in es):>8.4f}")
print("memory method:", rows[1][0]["memory_method"])
PY
