#!/usr/bin/env bash
# The README's demo on a Slurm site: installs the Debian packages (Slurm's
# included), builds carbond, starts a throwaway single-node Slurm cluster on
# localhost (tests/daemon/exec/slurm/start-cluster.sh: a private munged, slurmctld and
# slurmd in a temp directory), and carbond with two sites: "box" (the local
# worker) and "cluster" (that Slurm cluster). The carbon-aware Fashion-MNIST
# job names the cluster: carbond submits it held while the grid is dirty
# (squeue shows it, with carbond's comment), releases it at the forecast's
# clean window, and follows it through Slurm to its epochs, energy and CO2.
# A virtual clock starts at 02:30 UTC and runs 60 times faster, so the wait
# for the mock grid's 03:00 trough takes about half a minute. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

demo=${DEMO_DIR:-$PWD/demo-slurm-run}
rm -rf "$demo"
mkdir -p "$demo"
chmod 755 "$demo"  # munged wants its socket's path searchable by all
out=$(tests/daemon/exec/slurm/start-cluster.sh start "$demo/cluster" | tail -1)
export "$out"  # SLURM_CONF, for squeue and sacct below
ctl=build/proto-less-api/carbonctl
export CARBOND_SOCKET=$demo/carbond.sock
carbond_pid=
cleanup() {
  [[ -n $carbond_pid ]] && { kill -TERM "$carbond_pid" 2>/dev/null || true; wait "$carbond_pid" 2>/dev/null || true; }
  tests/daemon/exec/slurm/start-cluster.sh stop "$demo/cluster" >/dev/null 2>&1 || true
}
trap cleanup EXIT

cat > "$demo/carbond.yaml" <<YAML
socket: $demo/carbond.sock
state_dir: $demo/state
worker:
  path: $PWD/build/worker/carbon-worker
sites:
  - name: box
    executor: local
    zone: GB
  - name: cluster
    executor: slurm
    zone: GB
    slots: 4
    slurm:
      conf: $SLURM_CONF
      run_root: $demo/shared/runs      # storage the compute nodes see
      worker_path: $PWD/build/worker/carbon-worker
      poll: 1s
clock:
  mode: virtual
  start: $(date -u +%Y-%m-%dT02:30:00Z)
  speed: 60
YAML
sed -e 's/^  budget_kg: 0.05$/  budget_kg: 0.05\n  sites: [cluster]/' \
    -e 's/^name: fashion-mnist-carbon-aware$/name: fashion-mnist-on-slurm/' \
    configs/jobs/fashion-mnist-carbon-aware.yaml > "$demo/job.yaml"

echo "== starting carbond with sites box (local) and cluster (Slurm; log: $demo/carbond.log)"
build/daemon/carbond --config "$demo/carbond.yaml" >"$demo/carbond.log" 2>&1 &
carbond_pid=$!
for _ in $(seq 100); do
  [[ -S $CARBOND_SOCKET ]] && $ctl health >/dev/null 2>&1 && break
  sleep 0.1
done
$ctl health | python3 -c 'import json,sys; h=json.load(sys.stdin); print("status:", h["status"]); [print("site", s["name"], "zone", s["zone"], "slots", s["slots"]) for s in h["sites"]]'

echo "== submitting $demo/job.yaml (carbon.sites: [cluster])"
id=$($ctl submit "$demo/job.yaml")
for _ in $(seq 100); do
  slurm_id=$($ctl -o json status "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["slurm_job_id"] or "")')
  [[ -n $slurm_id ]] && break
  sleep 0.2
done
sleep 1
echo "== held in Slurm while the grid is dirty: squeue (Slurm job $slurm_id, carbond job $id)"
squeue -t all -o '%.6i %.9T %.12r %.24j %k'
$ctl status "$id" | sed -n '1,4p;/planned start/p;/site:/p'

echo "== following it: released at the clean window, trained through Slurm"
$ctl watch "$id" --timeout 900
$ctl status "$id" | sed -n '1,4p;/started/p;/site:/p'
echo "== what Slurm recorded (sacct -c: the jobcomp file of this cluster)"
sacct -c -n -P -o jobid,jobname,state,exitcode,start,end -j "$slurm_id"
echo "== carbonctl emissions $id (CodeCarbon's emissions.csv, also in $demo/shared/runs/$id/)"
$ctl emissions "$id" | cut -d, -f1-14
echo "== stopping carbond (Slurm's jobs would run on; this one is over) and the cluster"
kill -TERM "$carbond_pid"
wait "$carbond_pid"
carbond_pid=
echo "demo done; state kept in $demo"
