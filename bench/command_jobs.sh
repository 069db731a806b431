#!/usr/bin/env bash
# Command jobs (issue "Bring your own training"), three measurements on this
# build and Debian's python3-torch:
#  1. examples/pytorch/train_fashion_mnist.py run bare against the same run as
#     a job of a real carbond (mock intensity, policy immediate), alternating,
#     PAIRS times (default 5), the order swapped every pair: medians of the
#     program's wall time (exec to exit: the supervisor's log; bare: the
#     shell's clock around python3) and of its training samples/s (its own
#     epoch lines), and carbond/bare.
#  2. From the stop signal to the program's exit (a cancel, mid-epoch), and
#     from a resume (carbond restarted after a drain) to the first training
#     step: REPS times (default 5), medians.
#  3. carbond's own CPU with JOBS (default 100) running command jobs (each a
#     `sleep`) against as many running built-in jobs (the tests' fake worker,
#     "slow"), over WINDOW seconds (default 20): CPU ms per tick (the tick is
#     1 s), and the supervisors' CPU.
#   usage: bench/command_jobs.sh [PAIRS]      (after scripts/build.sh)
#   PARTS="1 2 3" (default) picks the measurements; EPOCHS (3) and LIMIT
#   (60000) size the runs of part 1.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}
reps=${REPS:-5}
jobs=${JOBS:-100}
window=${WINDOW:-20}
parts=${PARTS:-1 2 3}
epochs=${EPOCHS:-3}
limit=${LIMIT:-60000}
threads=${THREADS:-1}
build=$PWD/build
script=$PWD/examples/pytorch/train_fashion_mnist.py
dir=$(mktemp -d)
carbond_pid=
cleanup() {
  [[ -n $carbond_pid ]] && kill -TERM "$carbond_pid" 2>/dev/null && wait "$carbond_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
export PATH=$build/worker:/usr/bin:/bin CARBOND_SOCKET=$dir/carbond.sock
ctl() { "$build/proto-less-api/carbonctl" "$@"; }

start_carbond() {  # [worker] [slots]
  cat > "$dir/carbond.yaml" <<YAML
socket: $dir/carbond.sock
state_dir: $dir/state
worker:
  path: ${1:-$build/worker/carbon-worker}
  max_concurrent_jobs: ${2:-1}
  max_attempts: 1
YAML
  "$build/daemon/carbond" --config "$dir/carbond.yaml" >>"$dir/carbond.log" 2>&1 &
  carbond_pid=$!
  for _ in $(seq 200); do [[ -S $dir/carbond.sock ]] && ctl health >/dev/null 2>&1 && return; sleep 0.05; done
  echo "carbond did not start:"; cat "$dir/carbond.log"; exit 1
}
stop_carbond() {
  kill -TERM "$carbond_pid"; wait "$carbond_pid" 2>/dev/null || true; carbond_pid=
}
job_yaml() {  # name epochs extra-args
  cat <<YAML
name: $1
run:
  command: [/usr/bin/python3, $script, --epochs, '$2', --train-limit, '$limit', --test-limit, '2000', --threads, '$threads'$3]
  env: {PATH: /usr/bin:/bin}
  gpus: 0
carbon: {policy: immediate}
YAML
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

id=0
if [[ " $parts " == *" 1 "* ]]; then
echo "== 1. the example script bare and under carbond, $pairs pairs ($epochs epochs of $limit images)"
start_carbond
for p in $(seq "$pairs"); do
  order="bare carbond"
  (( p % 2 == 0 )) && order="carbond bare"
  for who in $order; do
    if [[ $who == bare ]]; then
      start=$(date +%s%N)
      out=$(cd "$dir" && /usr/bin/python3 "$script" --epochs "$epochs" --train-limit "$limit" --test-limit 2000 --threads "$threads")
      end=$(date +%s%N)
      wall=$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", (e - s) / 1e9}')
    else
      job_yaml "pair$p" "$epochs" "" > "$dir/job.yaml"
      id=$((id + 1))
      ctl submit "$dir/job.yaml" >/dev/null
      ctl wait "$id" --timeout 600 >/dev/null
      out=$(cat "$dir/state/runs/$id/output.log")
      wall=$(sed -n 's/.*the program exited with status 0 after \([0-9.]*\) s.*/\1/p' "$dir/state/runs/$id/worker.log")
    fi
    sps=$(sed -n 's/.*, \([0-9]*\) samples\/s).*/\1/p' <<<"$out" | median)
    echo "$who $wall $sps" | tee -a "$dir/pairs"
  done
done
for who in bare carbond; do
  echo "$who $(awk -v w="$who" '$1 == w {print $2}' "$dir/pairs" | median) $(awk -v w="$who" '$1 == w {print $3}' "$dir/pairs" | median)"
done | awk '{w[$1]=$2; s[$1]=$3} END {
  printf "median wall s: bare %.3f, carbond %.3f, carbond/bare %.4f\n", w["bare"], w["carbond"], w["carbond"]/w["bare"];
  printf "median samples/s: bare %.0f, carbond %.0f, carbond/bare %.4f\n", s["bare"], s["carbond"], s["carbond"]/s["bare"] }'

stop_carbond
fi

if [[ " $parts " == *" 2 "* ]]; then
echo "== 2. stop signal to exit (cancel mid-epoch), and resume to first step (after a drain), $reps times"
start_carbond
for r in $(seq "$reps"); do
  job_yaml "stop$r" 50 ", --step-sleep, '0.002'" > "$dir/job.yaml"
  id=$((id + 1))
  ctl submit "$dir/job.yaml" >/dev/null
  run=$dir/state/runs/$id
  for _ in $(seq 600); do grep -q "first step" "$run/output.log" 2>/dev/null && break; sleep 0.1; done
  sleep 1
  # A drain: carbond stops, the job checkpoints and exits; the restart resumes it.
  stop_carbond
  stop_s=$(sed -n 's/.*(\([0-9.]*\) s after the stop signal).*/\1/p' "$run/worker.log" | tail -1)
  start_carbond
  for _ in $(seq 600); do [[ $(grep -c "first step" "$run/output.log") -ge 2 ]] && break; sleep 0.1; done
  exec_at=$(sed -n 's/.*, resuming at unix time \([0-9.]*\)/\1/p' "$run/worker.log" | tail -1)
  step_at=$(sed -n 's/first step at unix time \([0-9.]*\)/\1/p' "$run/output.log" | tail -1)
  resume_s=$(awk -v a="$exec_at" -v b="$step_at" 'BEGIN {printf "%.3f", b - a}')
  ctl cancel "$id" >/dev/null
  ctl wait "$id" --timeout 120 >/dev/null || true
  cancel_s=$(sed -n 's/.*(\([0-9.]*\) s after the stop signal).*/\1/p' "$run/worker.log" | tail -1)
  echo "drain-stop $stop_s cancel-stop $cancel_s resume-to-first-step $resume_s" | tee -a "$dir/stops"
done
echo "median: drain stop $(awk '{print $2}' "$dir/stops" | median) s, cancel stop $(awk '{print $4}' "$dir/stops" | median) s, resume to first step $(awk '{print $6}' "$dir/stops" | median) s"
stop_carbond
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tree_ticks() {  # every carbon-worker / fake-worker process's own CPU (and its children's)
  local sum=0
  for p in $(pgrep -f "$1"); do sum=$((sum + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$sum"
}
hz=$(getconf CLK_TCK)
[[ " $parts " == *" 3 "* ]] || exit 0
echo "== 3. carbond's CPU with $jobs running jobs, over $window s"
for kind in command builtin; do
  rm -rf "$dir/state"
  if [[ $kind == command ]]; then
    start_carbond "$build/worker/carbon-worker" "$jobs"
    for i in $(seq "$jobs"); do
      printf 'name: sleeper%d\nrun:\n  command: [sleep, "600"]\n  gpus: 0\ncarbon: {policy: immediate}\n' "$i" > "$dir/s.yaml"
      ctl submit "$dir/s.yaml" >/dev/null
    done
    pattern=carbon-worker
  else
    start_carbond "$build/tests/fake-worker" "$jobs"
    for i in $(seq "$jobs"); do
      printf 'name: slow%d\ncarbon: {policy: immediate}\n' "$i" > "$dir/s.yaml"
      ctl submit "$dir/s.yaml" >/dev/null
    done
    pattern=fake-worker
  fi
  for _ in $(seq 300); do
    [[ $(ctl -o json list --state running --limit 1000 | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))') -ge $jobs ]] && break
    sleep 0.2
  done
  sleep 3
  c0=$(cpu_ticks "$carbond_pid"); w0=$(tree_ticks "$pattern")
  sleep "$window"
  c1=$(cpu_ticks "$carbond_pid"); w1=$(tree_ticks "$pattern")
  awk -v k="$kind" -v n="$jobs" -v c=$((c1 - c0)) -v w=$((w1 - w0)) -v hz="$hz" -v s="$window" 'BEGIN {
    printf "%s jobs: %d running; carbond %.2f CPU ms per 1 s tick (%.2f%% of a core); their workers %.1f%% of a core in all\n",
      k, n, c * 1000 / hz / s, c * 100 / hz / s, w * 100 / hz / s }'
  stop_carbond
done
