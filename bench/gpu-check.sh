#!/usr/bin/env bash
# The CUDA checks of the worker and energy issues, as one script for a machine
# with an NVIDIA GPU (never run by the tests or CI):
#  1. fp16 AMP against fp32: samples/s and peak CUDA memory (CNN, batch 256, or MODEL and BATCH);
#  2. peak CUDA memory added by training for accumulation k = 1, 2, 4, 8 at the
#     same effective batch (256);
#  3. NVML's energy counter against integrated power over 60 s while a CUDA
#     job trains (build/bench/nvml_compare; the energy issue asks for
#     agreement within 5 %), then that run's per-epoch energy rows.
# Build first against the machine's CUDA LibTorch, e.g. PyTorch's, worker only:
#   cmake -S . -B build-cuda -G Ninja -DCARBON_WORKER_ONLY=ON \
#     -DTorch_DIR="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')/Torch"
#   cmake --build build-cuda --target carbon-worker nvml_compare
#   usage: bench/gpu-check.sh [build-cuda] [DATA_DIR with the Fashion-MNIST IDX files]
# DEVICE=cpu LIMIT=2000 runs the same steps on a CPU for a dry run of the script.
# MODEL (a YAML mapping, default the small CNN) and BATCH (default 256) change
# the network of steps 1 and 2; ENERGY=0 skips step 3.
#  4. GPU power capping (carbon.gpu_power_cap's effect): the same 2-epoch job
#     at 100 %, 85 % and 70 % of GPU 0's default power limit (nvidia-smi -pl,
#     root), energy, power and time per epoch; the default limit is put back
#     at the end, whatever happens. CAP=0 skips it; ONLY=cap runs only it.
set -euo pipefail
build=${1:-build-cuda}
data=${2:-/usr/share/datasets/fashion-mnist}
worker=$build/worker/carbon-worker
cnn='{arch: cnn, channels: [32, 64]}'
model=${MODEL:-$cnn}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
nvidia-smi --query-gpu=name,memory.total,power.limit --format=csv || true
job() {  # name precision k epochs
  cat > "$dir/$1.yaml" <<YAML
name: $1
model: $model
data: {path: $data, train_limit: ${LIMIT:-0}}
train: {epochs: $4, batch_size: ${BATCH:-256}, accumulation_steps: $3, precision: $2, device: ${DEVICE:-cuda}, seed: 1}
YAML
}
epoch_rows() { grep '"event":"epoch"' "$1" || true; }

powercap() {
  echo "== 4. GPU power cap: energy and time per epoch at 100/85/70 % of the default limit"
  def=$(nvidia-smi -i 0 --query-gpu=power.default_limit --format=csv,noheader,nounits | head -1 | cut -d. -f1)
  [[ -n $def ]] || { echo "no default power limit from nvidia-smi"; return 0; }
  trap 'nvidia-smi -i 0 -pl "$def" >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
  job cap fp32 1 "${CAP_EPOCHS:-2}"
  for r in $(seq "${REPEAT:-1}"); do
    for pct in 100 85 70; do
      local w=$((def * pct / 100))
      if ! nvidia-smi -i 0 -pl "$w" > "$dir/pl.log" 2>&1; then
        echo "nvidia-smi -pl $w refused (root and a driver that allows it are needed):"; cat "$dir/pl.log"; break 2
      fi
      rm -rf "$dir/run"
      "$worker" --job "$dir/cap.yaml" --run-dir "$dir/run" --measure-power-secs 1 --gco2-per-kwh 200 \
        2>>"$dir/log" | epoch_rows /dev/stdin | tail -1 | sed "s/^/$pct /" >>"$dir/cap"
    done
  done
  nvidia-smi -i 0 -pl "$def" >/dev/null 2>&1 || true
  [[ -s $dir/cap ]] || return 0
  python3 - "$dir/cap" "$def" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    pct, js = line.split(" ", 1)
    rows.setdefault(int(pct), []).append(json.loads(js))  # each run's last epoch (CUDA warmed up)
med = lambda xs: statistics.median(xs)
base = None
for pct in sorted(rows, reverse=True):
    es = rows[pct]
    kwh = med([e["energy"]["gpu_kwh"] for e in es])
    wall = med([e["wall_s"] for e in es])
    watts = med([e["energy"]["gpu_w"] for e in es])
    base = base or (kwh, wall)
    print(f"{pct:>3}% (limit in force {es[0]['energy'].get('gpu_power_limit_w')} W), median of {len(es)} runs' last epoch: "
          f"{wall:.2f} s, GPU {watts:.1f} W, {kwh * 3.6e6:.0f} J ({kwh / base[0]:.2f} of 100 %), time {wall / base[1]:.2f} of 100 %")
PY
}
if [[ ${ONLY:-} == cap ]]; then
  MODEL=${MODEL:-'{arch: resnet, blocks: 2, width: 64}'}
  model=$MODEL
  powercap
  exit 0
fi

echo "== 1. fp16 AMP vs fp32 (1 epoch each, 3 alternating runs)"
job fp32 fp32 1 1
job fp16 "$([[ ${DEVICE:-cuda} == cpu ]] && echo bf16 || echo fp16)" 1 1
for r in 1 2 3; do
  for p in fp32 fp16; do
    rm -rf "$dir/run"
    "$worker" --job "$dir/$p.yaml" --run-dir "$dir/run" 2>>"$dir/log" | epoch_rows /dev/stdin | sed "s/^/$p /" >>"$dir/prec"
  done
done
echo "== 2. peak CUDA memory against k (effective batch ${BATCH:-256})"
for k in 1 2 4 8; do
  job "k$k" fp32 "$k" 1
  rm -rf "$dir/run"
  "$worker" --job "$dir/k$k.yaml" --run-dir "$dir/run" 2>>"$dir/log" | epoch_rows /dev/stdin | sed "s/^/$k /" >>"$dir/mem"
done
python3 - "$dir/prec" "$dir/mem" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    p, js = line.split(" ", 1)
    rows.setdefault(p, []).append(json.loads(js))
for p in ("fp32", "fp16"):
    es = rows.get(p, [])
    if es:
        print(f"{p}: {statistics.median(e['samples_per_s'] for e in es):.0f} samples/s, peak "
              f"{statistics.median(e['peak_memory_bytes'] for e in es) / 2**20:.1f} MB ({es[0]['memory_method']}), "
              f"accuracy {statistics.median(e['test_accuracy'] for e in es):.4f}, skipped steps {es[-1]['skipped_steps']}")
if rows.get("fp32") and rows.get("fp16"):
    print(f"fp16/fp32 speed: {statistics.median(e['samples_per_s'] for e in rows['fp16']) / statistics.median(e['samples_per_s'] for e in rows['fp32']):.2f}x")
base = None
for line in open(sys.argv[2]):
    k, js = line.split(" ", 1)
    e = json.loads(js)
    base = base or e["memory_added_bytes"]
    print(f"k={k}: added {e['memory_added_bytes'] / 2**20:.1f} MB ({e['memory_added_bytes'] / base:.2f} of k=1), "
          f"peak {e['peak_memory_bytes'] / 2**20:.1f} MB, {e['samples_per_s']:.0f} samples/s")
PY

if [[ ${ENERGY:-1} == 0 ]]; then
  [[ ${CAP:-1} == 0 ]] || powercap
  exit 0
fi
echo "== 3. NVML energy counter vs integrated power, 60 s of CUDA training"
job energy auto 2 50
"$worker" --job "$dir/energy.yaml" --run-dir "$dir/erun" --measure-power-secs 5 --gco2-per-kwh 200 \
  > "$dir/events" 2>>"$dir/log" &
sleep 10  # data loaded, CUDA warmed up
"$build/bench/nvml_compare" 60 1 || echo "nvml_compare: no comparison (exit $?)"
sleep 2
kill %1 2>/dev/null || true
wait || true
grep -m4 -E "device|precision|energy|blas" "$dir/log" || true
python3 - "$dir/events" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"event":"epoch"' in l]
print(f"{'epoch':>5} {'wall s':>7} {'cpu W':>7} {'gpu W':>7} {'ram W':>6} {'kWh':>10} {'g CO2':>8}  methods")
for e in rows:
    en = e["energy"]
    print(f"{e['epoch']:>5} {e['wall_s']:>7.2f} {en['cpu_w']:>7.1f} {en['gpu_w']:>7.1f} {en['ram_w']:>6.1f} "
          f"{en['energy_kwh']:>10.6f} {e.get('kg_co2', 0) * 1000:>8.4f}  "
          f"{en['cpu_method']}/{en['gpu_method']}/{en['ram_method']}")
PY
[[ ${CAP:-1} == 0 ]] || powercap
