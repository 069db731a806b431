#!/usr/bin/env bash
# Adapted from the project's Slurm feasibility probe (shared/slurm/start-cluster.sh, written for carbond).
# Throw-away single-node Slurm cluster on localhost (Debian 12: slurm 22.05.8, munge 0.5.15).
# Needs root and: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge
#                 (+ slurmrestd for SLURM_RESTD=1).  No systemd, no /etc/slurm, no DB.
#
#   start-cluster.sh start [DIR]  -> last stdout line: SLURM_CONF=DIR/slurm.conf
#   start-cluster.sh status DIR
#   start-cluster.sh stop DIR     -> cancels jobs, stops daemons by pid file, removes DIR
#   start-cluster.sh stop-controller DIR | start-controller DIR  -> slurmctld alone (an outage)
#                                    (KEEP_DIR=1 keeps it, e.g. to read logs)
# Knobs (env): SLURM_CTLD_PORT, SLURM_SLURMD_PORT (default: random free ports),
#   SLURM_MIN_JOB_AGE (s a finished job stays visible to squeue/scontrol, default 300),
#   SLURM_SCHED_INTERVAL (main scheduler period in s = worst --begin latency; Slurm's
#   default is 60, here 1), SLURM_RESTD=1 (also start slurmrestd on DIR/run/slurmrestd.sock).
set -euo pipefail

# A failed start stops what it started (CLEANUP=1 once DIR exists).
die() {
  echo "start-cluster: $*" >&2
  [ "${CLEANUP:-0}" = 1 ] && stop_pids slurmrestd slurmd slurmctld munged >/dev/null 2>&1 || true
  exit 1
}
log() { echo "start-cluster: $*" >&2; }

# slurmd 22.05 initialises its cgroup plugin even with proctrack/linuxproc and
# task/none, and dies without a cgroup file system at /sys/fs/cgroup: a chroot
# (a fresh Debian made with debootstrap) whose /sys was bind-mounted without
# its submounts has none. Mount what this host uses: cgroup2 where processes
# sit in the unified hierarchy only, else a v1 layout with the name=systemd
# and freezer hierarchies slurmd looks at ("Hybrid mode is not supported"
# otherwise). DIR/cgroup-mounted records it; stop unmounts it.
ensure_cgroup_fs() {
  command -v mountpoint >/dev/null || return 0
  [ -d /sys/fs/cgroup ] || return 0
  mountpoint -q /sys/fs/cgroup && return 0
  if [ "$(grep -c . /proc/self/cgroup)" = 1 ] && grep -q '^0::' /proc/self/cgroup; then
    mount -t cgroup2 none /sys/fs/cgroup || die "cannot mount cgroup2 on /sys/fs/cgroup"
    echo "/sys/fs/cgroup" > "$D/cgroup-mounted"
  else
    mount -t tmpfs cgroup_root /sys/fs/cgroup || die "cannot mount a tmpfs on /sys/fs/cgroup"
    mkdir -p /sys/fs/cgroup/systemd /sys/fs/cgroup/freezer
    mount -t cgroup -o none,name=systemd systemd /sys/fs/cgroup/systemd || die "cannot mount the name=systemd cgroup"
    mount -t cgroup -o freezer freezer /sys/fs/cgroup/freezer || die "cannot mount the freezer cgroup"
    printf '%s\n' /sys/fs/cgroup/freezer /sys/fs/cgroup/systemd /sys/fs/cgroup > "$D/cgroup-mounted"
  fi
  log "no cgroup file system at /sys/fs/cgroup (a chroot?): mounted one for slurmd"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }

free_port() {  # random port in 20000-39999 nobody listens on
  local p used   # listening TCP ports from /proc (no ss/netstat needed)
  used=$(awk '$4 == "0A" {split($2, a, ":"); print a[2]}' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
         while read -r h; do echo $((16#$h)); done)
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 20000))
    grep -qx "$p" <<<"$used" || [ "$p" = "${1:-}" ] || { echo "$p"; return; }
  done
  die "no free port"
}

pid_of() { [ -s "$1" ] && cat "$1" || true; }

stop_pids() {  # stop_pids NAME... : SIGTERM all, wait up to 30 s, then SIGKILL (pids from DIR/run/NAME.pid)
  local n p t0 left; t0=$(now_ms); local -A pids=()
  for n in "$@"; do
    p=$(pid_of "$D/run/$n.pid")
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill -TERM "$p" && pids[$n]=$p
  done
  for _ in $(seq 300); do
    left=""; for n in "${!pids[@]}"; do kill -0 "${pids[$n]}" 2>/dev/null && left+=" $n"; done
    [ -z "$left" ] && break; sleep 0.1
  done
  for n in $left; do log "$n (${pids[$n]}) ignored SIGTERM for 30 s, SIGKILL"; kill -KILL "${pids[$n]}" 2>/dev/null || true; done
  [ ${#pids[@]} = 0 ] || log "stopped ${!pids[*]} in $(since $t0) s"
}

start() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  for b in munged mungekey slurmctld slurmd sinfo; do command -v $b >/dev/null || die "$b missing (apt-get install slurmctld slurmd slurm-client munge)"; done
  local D=${1:-$(mktemp -d /tmp/slurm-cluster.XXXXXX)}
  mkdir -p "$D"; D=$(cd "$D" && pwd)
  [ -e "$D/slurm.conf" ] && die "$D already holds a cluster"
  chmod 755 "$D"                                # munged: socket dir must be o+x
  mkdir -p "$D"/{munge,run,log,state,spool,jobs}; chmod 700 "$D/munge"
  CLEANUP=1
  ensure_cgroup_fs
  local t0; t0=$(now_ms)

  mungekey --create --keyfile="$D/munge/munge.key"
  munged --key-file="$D/munge/munge.key" --socket="$D/run/munge.sock" \
         --pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" \
         --seed-file="$D/munge/munged.seed" || { cat "$D/log/munged.log" >&2; die "munged failed"; }

  local cport=${SLURM_CTLD_PORT:-$(free_port)} dport=${SLURM_SLURMD_PORT:-}
  [ -n "$dport" ] || dport=$(free_port "$cport")
  # exact hardware line (CPUs, sockets, cores, RealMemory) for this host, renamed to localhost
  local node; node=$(env -u SLURM_CONF slurmd -C | head -1 | sed 's/^NodeName=[^ ]*//')
  cat > "$D/slurm.conf" <<EOF
# generated by start-cluster.sh
ClusterName=carbondtest
SlurmctldHost=localhost(127.0.0.1)   # an address: a fresh chroot may have no /etc/hosts
SlurmctldPort=$cport
SlurmdPort=$dport
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/run/munge.sock
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=${SLURM_SCHED_INTERVAL:-1}
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
MinJobAge=${SLURM_MIN_JOB_AGE:-300}
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$D/slurm.conf"
  slurmctld || { tail -20 "$D/log/slurmctld.log" >&2; die "slurmctld failed"; }
  slurmd -N localhost || { tail -20 "$D/log/slurmd.log" >&2; die "slurmd failed"; }
  local st=""
  for _ in $(seq 300); do
    st=$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)
    [ "$st" = idle ] && break; sleep 0.1
  done
  [ "$st" = idle ] || { tail -20 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2; die "node not idle after 30 s (state '$st')"; }
  if [ "${SLURM_RESTD:-0}" = 1 ]; then
    # root is refused unless disable_user_check; dbv0.0.38 plugin needs slurmdbd -> load v0.0.38 only
    SLURMRESTD_SECURITY=disable_user_check setsid slurmrestd -a rest_auth/local -s openapi/v0.0.38 \
      "unix:$D/run/slurmrestd.sock" </dev/null >"$D/log/slurmrestd.log" 2>&1 &
    echo $! > "$D/run/slurmrestd.pid"
    for _ in $(seq 100); do [ -S "$D/run/slurmrestd.sock" ] && break; sleep 0.1; done
    [ -S "$D/run/slurmrestd.sock" ] || { cat "$D/log/slurmrestd.log" >&2; die "slurmrestd failed"; }
    log "slurmrestd on unix:$D/run/slurmrestd.sock"
  fi
  log "up in $(since $t0) s: ports ctld=$cport slurmd=$dport, pids munged=$(pid_of "$D/run/munged.pid") slurmctld=$(pid_of "$D/run/slurmctld.pid") slurmd=$(pid_of "$D/run/slurmd.pid")"
  echo "SLURM_CONF=$D/slurm.conf"
}

status() {
  local D=${1:?DIR}; export SLURM_CONF="$D/slurm.conf"
  for n in munged slurmctld slurmd slurmrestd; do
    local p; p=$(pid_of "$D/run/$n.pid")
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "$n $p running"; else echo "$n - stopped"; fi
  done
  sinfo -h -o '%P %T %D' 2>&1 || true
  squeue -h -o '%i %T %r' 2>&1 || true
}

stop() {
  local D=${1:?DIR}; D=$(cd "$D" && pwd)
  [ -f "$D/slurm.conf" ] || die "$D is not a cluster dir"
  export SLURM_CONF="$D/slurm.conf"
  local t0; t0=$(now_ms)
  local ctld; ctld=$(pid_of "$D/run/slurmctld.pid")
  if [ -n "$ctld" ] && kill -0 "$ctld" 2>/dev/null; then
    # kill the jobs first: slurmstepd outlives slurmd (it is not our child)
    local ids; ids=$(squeue -h -o '%i' 2>/dev/null || true)
    if [ -n "$ids" ]; then
      scancel $ids 2>/dev/null || true
      for _ in $(seq 100); do [ -z "$(squeue -h -t R,CG,PD -o %i 2>/dev/null)" ] && break; sleep 0.1; done
    fi
  fi
  stop_pids slurmrestd slurmd slurmctld munged   # all at once: ~2 s (munged is the slowest)
  if [ -f "$D/cgroup-mounted" ]; then
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done < "$D/cgroup-mounted"
  fi
  log "stopped in $(since $t0) s"
  if [ "${KEEP_DIR:-0}" = 1 ]; then log "kept $D"; else rm -rf "$D"; fi
}

stop_controller() {
  local D=${1:?DIR}; D=$(cd "$D" && pwd)
  stop_pids slurmctld
}

start_controller() {
  local D=${1:?DIR}; D=$(cd "$D" && pwd); export SLURM_CONF="$D/slurm.conf"
  slurmctld || { tail -20 "$D/log/slurmctld.log" >&2; die "slurmctld failed"; }
  for _ in $(seq 300); do scontrol ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "slurmctld not answering after 30 s"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop-controller) shift; stop_controller "$@" ;;
  start-controller) shift; start_controller "$@" ;;
  stop) shift; stop "$@" ;;
  status) shift; status "$@" ;;
  *) echo "usage: $0 start [DIR] | status DIR | stop DIR | stop-controller DIR | start-controller DIR" >&2; exit 2 ;;
esac
