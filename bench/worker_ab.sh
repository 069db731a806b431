#!/usr/bin/env bash
# Two carbon-worker builds side by side (a change against the commit before
# it): one epoch over LIMIT training images (default 20000), batch 64, fp32,
# THREADS threads (default 2), alternating A and B, RUNS times each (default
# 5), the order swapped every round (A B, B A, ...: the second process of a
# pair measured up to 10% slower on the CNN here, whichever build it was).
# Prints the medians of training samples/s (from the epoch event) and of
# the whole process's wall time (start-up, data, training, evaluation,
# checkpoint), and B/A.
#   usage: bench/worker_ab.sh A/carbon-worker B/carbon-worker [RUNS]
set -euo pipefail
a=$1
b=$2
runs=${3:-5}
limit=${LIMIT:-20000}
threads=${THREADS:-2}
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
    order="A B"
    (( r % 2 == 0 )) && order="B A"
    for who in $order; do
      worker=$a
      [[ $who == B ]] && worker=$b
      rm -rf "$dir/run"
      start=$(date +%s%N)
      line=$("$worker" --job "$dir/$arch.yaml" --run-dir "$dir/run" --gco2-per-kwh 200 2>/dev/null |
        grep '"event":"epoch"')
      end=$(date +%s%N)
      echo "$arch $who $(( (end - start) / 1000000 )) $line" >> "$dir/results"
    done
  done
done
/usr/bin/python3 - "$dir/results" "$runs" <<'PY'
import json, statistics, sys
r = {}
for line in open(sys.argv[1]):
    arch, who, wall, js = line.split(" ", 3)
    r.setdefault((arch, who), []).append((json.loads(js)["samples_per_s"], int(wall) / 1000))
print(f"{'model':<5} {'A samples/s':>12} {'B samples/s':>12} {'B/A':>6} {'A wall s':>9} {'B wall s':>9} {'B/A':>6}  (medians of {sys.argv[2]} runs)")
for arch in ("mlp", "cnn"):
    med = lambda who, i: statistics.median(x[i] for x in r[(arch, who)])
    sa, sb, wa, wb = med("A", 0), med("B", 0), med("A", 1), med("B", 1)
    print(f"{arch:<5} {sa:>12.0f} {sb:>12.0f} {sb / sa:>6.3f} {wa:>9.2f} {wb:>9.2f} {wb / wa:>6.3f}")
PY
