#!/usr/bin/env bash
# The CUDA checks of the energy issue, on a machine with an NVIDIA GPU:
#  1. NVML's energy counter against integrated power over 60 s while a CUDA
#     training job runs (bench/nvml_compare; the issue asks for agreement
#     within 5 %);
#  2. the per-epoch rows (energy per component, methods, CO2) of that run.
# Build first against a CUDA LibTorch, e.g. PyTorch's:
#   cmake -S . -B build-cuda -G Ninja \
#     -DTorch_DIR="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')/Torch"
#   cmake --build build-cuda --target carbon-worker nvml_compare
#   usage: bench/gpu-check.sh [build-cuda] [DATA_DIR]
set -euo pipefail
build=${1:-build-cuda}
data=${2:-/usr/share/datasets/fashion-mnist}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/job.yaml" <<YAML
name: gpu-check
model: {arch: cnn, channels: [32, 64]}
data: {path: $data}
train: {epochs: 50, batch_size: 256, accumulation_steps: 2, precision: auto, device: auto, seed: 1}
YAML
nvidia-smi --query-gpu=name,power.draw,power.limit --format=csv || true
"$build/worker/carbon-worker" --job "$dir/job.yaml" --run-dir "$dir/run" --measure-power-secs 5 \
  --gco2-per-kwh 200 > "$dir/events" 2> "$dir/worker.log" &
sleep 10  # data loaded, CUDA warmed up
"$build/bench/nvml_compare" 60 1 || echo "nvml_compare: no comparison (exit $?)"
sleep 2
kill %1 2>/dev/null || true
wait || true
grep -m3 -E "device|precision|energy" "$dir/worker.log" || true
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
