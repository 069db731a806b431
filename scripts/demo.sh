#!/usr/bin/env bash
# The README's main command: installs the Debian packages, builds carbond,
# starts it on a fresh state directory (embedded defaults: SQLite, the local
# socket), submits the two example Fashion-MNIST jobs with carbonctl, follows
# them from queued to succeeded, and shows the history as sqlite3 sees it,
# with the grid intensity carbond polled meanwhile (the embedded mock).
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
# A virtual clock that starts at 00:30 UTC today and runs 120x faster than
# real time: the carbon-aware job waits for the mock grid's night-time trough
# (around 03:00, about 75 s of real time), while a few seconds of real
# training stay a few virtual minutes.
clock:
  mode: virtual
  start: $(date -u +%Y-%m-%dT00:30:00Z)
  speed: 120
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

echo "== submitting the example jobs"
baseline=$($ctl submit configs/jobs/fashion-mnist-baseline.yaml)
aware=$($ctl submit configs/jobs/fashion-mnist-carbon-aware.yaml)
echo "baseline job: $baseline, carbon-aware job: $aware"
$ctl list

echo "== following the jobs (carbonctl watch: state changes and epochs)"
$ctl watch "$baseline"
$ctl watch "$aware"

echo "== results"
$ctl list
$ctl status "$aware"

echo "== the history, as sqlite3 shows it ($demo/state/carbond.db)"
sqlite3 -header -column "$demo/state/carbond.db" \
  "SELECT id, name, state, attempts, wait_s, run_s FROM job_summary;" \
  "SELECT job_id, at, from_state, to_state FROM job_history;" \
  "SELECT job_id, name, epoch, train_loss, test_accuracy, samples_per_s, peak_memory_mb FROM epoch_summary;" \
  "SELECT * FROM intensity_latest;"

echo "== stopping carbond (SIGTERM drains)"
kill -TERM $carbond_pid
wait $carbond_pid
trap - EXIT
echo "demo done; state kept in $demo"
