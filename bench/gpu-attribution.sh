#!/usr/bin/env bash
# Issue 21's attribution on a real GPU box (never run by the tests or CI):
# which GPU energy each job is charged in CodeCarbon's two tracking modes,
# and CUDA_VISIBLE_DEVICES by UUID against the driver's NVML.
#   bench/gpu-attribution.sh [build-cuda] [DATA_DIR]   (build as bench/gpu-check.sh says)
# Each case trains 2 epochs on 20,000 images and prints its epoch rows'
# methods and mean powers, and the worker's energy notes.
set -euo pipefail
build=${1:-build-cuda}
data=${2:-/usr/share/datasets/fashion-mnist}
worker=$build/worker/carbon-worker
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
uuid=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | head -1)
echo "GPU 0: $uuid"
run() {  # label mode device CUDA_VISIBLE_DEVICES-or-"unset"
  cat > "$dir/job.yaml" <<YAML
name: $1
model: {arch: cnn, channels: [32, 64]}
data: {path: $data, train_limit: 20000, test_limit: 2000}
train: {epochs: 2, batch_size: 256, precision: fp32, device: $3, seed: 1}
YAML
  rm -rf "$dir/run"
  local env=(env)
  [[ $4 == unset ]] && env+=(-u CUDA_VISIBLE_DEVICES) || env+=("CUDA_VISIBLE_DEVICES=$4")
  "${env[@]}" "$worker" --job "$dir/job.yaml" --run-dir "$dir/run" --tracking-mode "$2" --gco2-per-kwh 200 \
    --measure-power-secs 1 > "$dir/events" 2> "$dir/log" || { echo "$1: worker failed"; tail -5 "$dir/log"; return; }
  python3 - "$1" "$2" "$4" "$dir/events" <<'PY'
import json, sys
label, mode, visible, path = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if '"event":"epoch"' in l]
started = [json.loads(l) for l in open(path) if '"event":"started"' in l]
dev = started[0].get("device", "?") if started else "?"
for e in rows:
    en, h = e["energy"], e.get("host", {})
    print(f"{label:<22} {mode:<8} {dev:<5} {visible[:14]:<14} epoch {e['epoch']}: gpu {en['gpu_w']:7.1f} W "
          f"({en['gpu_method']}), cpu {en['cpu_w']:6.1f} W ({en['cpu_method']}), ram {en['ram_w']:5.2f} W, "
          f"tracking_mode {en.get('tracking_mode')}, gpu_model {h.get('gpu_model', '')!r}")
PY
  grep "energy:" "$dir/log" | sed "s/^/    /" || true
}
run cuda-process   process cuda unset
run cpu-process    process cpu  unset
run cpu-machine    machine cpu  unset
run cuda-by-uuid   machine cuda "$uuid"
run cuda-by-prefix machine cuda "${uuid:0:12}"
run no-such-gpu    machine auto GPU-00000000-bogus
