#!/usr/bin/env bash
# carbon-worker against the same model and loop in Python (bench/reference_train.py,
# Debian's python3-torch: the same PyTorch version as Debian's LibTorch), side
# by side and alternating, RUNS times each (default 5); one epoch over
# LIMIT training images (default 20000), batch 64, fp32, THREADS threads
# (default 2). Prints the medians of training samples/s and the ratio.
#   usage: bench/python_vs_worker.sh [build/worker/carbon-worker] [RUNS]
set -euo pipefail
worker=${1:-build/worker/carbon-worker}
runs=${2:-5}
limit=${LIMIT:-20000}
threads=${THREADS:-2}
here=$(cd "$(dirname "$0")" && pwd)
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "installing Debian's python3-torch for the reference"
  apt-get install -y -q --no-install-recommends python3-torch >/dev/null
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for arch in mlp cnn; do
  cat > "$dir/$arch.yaml" <<YAML
name: bench-$arch
model: {arch: $arch, hidden: [256, 128], channels: [16, 32]}
data: {path: /usr/share/datasets/fashion-mnist, train_limit: $limit, test_limit: 100}
train: {epochs: 1, batch_size: 64, accumulation_steps: 1, precision: fp32, threads: $threads}
YAML
  for r in $(seq "$runs"); do
    rm -rf "$dir/run"
    "$worker" --job "$dir/$arch.yaml" --run-dir "$dir/run" 2>/dev/null | grep '"event":"epoch"' |
      sed "s/^/$arch worker /" >> "$dir/results"
    /usr/bin/python3 "$here/reference_train.py" --arch "$arch" --train-limit "$limit" \
      --threads "$threads" | sed "s/^/$arch python /" >> "$dir/results"
  done
done
/usr/bin/python3 - "$dir/results" <<'PY'
import json, statistics, sys
r = {}
for line in open(sys.argv[1]):
    arch, who, js = line.split(" ", 2)
    r.setdefault((arch, who), []).append(json.loads(js)["samples_per_s"])
print(f"{'model':<5} {'carbon-worker':>14} {'python':>10} {'ratio':>6}  (training samples/s, medians of {len(r[('cnn','worker')])} runs)")
for arch in ("mlp", "cnn"):
    w, p = statistics.median(r[(arch, "worker")]), statistics.median(r[(arch, "python")])
    print(f"{arch:<5} {w:>14.0f} {p:>10.0f} {w / p:>6.2f}x")
PY
