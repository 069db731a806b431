#!/bin/sh
# Release-to-running latency and the cost of tracking 1,000 held jobs on a
# throwaway single-node Slurm cluster (tests/daemon/exec/slurm/start-cluster.sh), with
# build/bench/slurm_bench. Needs root and Debian's slurmctld slurmd
# slurm-client munge (scripts/install-deps.sh installs them).
# Usage: bench/slurm_bench.sh [BUILD_DIR] [-- slurm_bench flags]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
work=$(mktemp -d /tmp/carbond-slurm-bench.XXXXXX)
chmod 755 "$work"  # munged needs its socket path searchable by all
out=$("$here/tests/daemon/exec/slurm/start-cluster.sh" start "$work/cluster" | tail -1)
export "$out"
trap '"$here/tests/daemon/exec/slurm/start-cluster.sh" stop "$work/cluster" >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p "$work/runs"
"$build/bench/slurm_bench" "$@" "$work/runs"
