#!/usr/bin/env bash
# The README's main command: installs the Debian packages, builds carbond,
# starts it on a fresh state directory (embedded defaults: SQLite, the local
# socket, the mock grid) with a virtual clock at 17:00, submits the
# carbon-aware, memory-optimised Fashion-MNIST job with its baseline twin,
# follows both, prints the comparison of what was measured, the CodeCarbon
# emissions rows, and the history as sqlite3 sees it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

demo=${DEMO_DIR:-$PWD/demo-run}
rm -rf "$demo"
mkdir -p "$demo"
cat > "$demo/carbond.yaml" <<YAML
socket: $demo/carbond.sock
state_dir: $demo/state
worker:
  path: $PWD/build/worker/carbon-worker
# A virtual clock that starts at 17:00 UTC today, near the mock grid's evening
# peak, and runs at real speed while a job trains; while every job waits it
# skips ahead to the next planned start, so the carbon-aware job's wait for
# the night-time trough costs seconds, and each epoch is charged the
# intensity of its own time of day.
clock:
  mode: virtual
  start: $(date -u +%Y-%m-%dT17:00:00Z)
  speed: 1
  skip_idle: true
# CodeCarbon's process mode: each job is charged its worker's share of the
# CPU and RAM energy (its CPU time over all busy CPU time, its resident
# memory), so the comparison does not depend on what else this machine runs.
energy:
  tracking_mode: process
YAML
export CARBOND_SOCKET=$demo/carbond.sock
ctl=build/proto-less-api/carbonctl

echo "== starting carbond (log: $demo/carbond.log)"
build/daemon/carbond --config "$demo/carbond.yaml" >"$demo/carbond.log" 2>&1 &
carbond_pid=$!
trap 'kill -TERM $carbond_pid 2>/dev/null || true; wait $carbond_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [[ -S $CARBOND_SOCKET ]] && $ctl health >/dev/null 2>&1 && break
  sleep 0.1
done
$ctl health

echo "== grid carbon intensity (the embedded mock: trough 03:00, peak 18:00)"
$ctl intensity

echo "== submitting the carbon-aware job with its baseline twin (immediate, accumulation 1, fp32)"
aware=$($ctl submit --with-baseline configs/jobs/fashion-mnist-carbon-aware.yaml)
baseline=$($ctl -o json status "$aware" | python3 -c 'import json,sys; print(json.load(sys.stdin)["baseline_id"])')
echo "carbon-aware job: $aware, its baseline: $baseline"
$ctl list

echo "== following the jobs (carbonctl watch: state changes and epochs)"
$ctl watch "$baseline"
$ctl watch "$aware"

echo "== results"
$ctl list
$ctl status "$aware"

echo "== carbonctl compare $aware (measured: baseline job $baseline vs carbon-aware job $aware)"
$ctl compare "$aware"

echo "== carbonctl report $aware (HTML with charts, and the same tables as Markdown)"
$ctl report "$aware" --html "$demo/report.html" --md "$demo/report.md"

echo "== carbonctl emissions $aware (CodeCarbon's emissions.csv; also in $demo/state/runs/$aware/)"
$ctl emissions "$aware" | cut -d, -f1-14

echo "== the history, as sqlite3 shows it ($demo/state/carbond.db)"
sqlite3 -header -column "$demo/state/carbond.db" \
  "SELECT id, name, state, attempts, wait_s, run_s FROM job_summary;" \
  "SELECT * FROM job_pairs;" \
  "SELECT job_id, at, from_state, to_state FROM job_history;" \
  "SELECT job_id, name, epoch, train_loss, test_accuracy, samples_per_s, peak_memory_mb FROM epoch_summary;" \
  "SELECT job_id, epoch, wall_s, energy_wh, cpu_w, ram_w, intensity_source, gco2_per_kwh, g_co2 FROM epoch_emissions;" \
  "SELECT * FROM intensity_latest;"

echo "== stopping carbond (SIGTERM drains)"
kill -TERM $carbond_pid
wait $carbond_pid
trap - EXIT
echo "demo done; state kept in $demo"
