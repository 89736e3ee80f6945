#!/usr/bin/env bash
# A private Slurm "cluster" of two nodes on this host, for the SLURM test (tests/workflow/test_slurm.py).
#
#   tests/workflow/slurm/local_slurm.sh start   install slurm/munge if missing (apt), then start munged,
#                                      slurmctld and one slurmd per node and wait until both are idle
#   tests/workflow/slurm/local_slurm.sh stop    stop exactly the daemons `start` started (recorded pids)
#                                      and remove the slurm.conf it wrote
#
# State, logs, pid files and a private munge key and socket live in $SIEVE_SLURM_DIR (default
# /tmp/sieve-slurm); /etc/munge, the default munge socket and the default Slurm ports are not
# touched. The configuration must be /etc/slurm/slurm.conf, because the job-step plugin removes
# SLURM_CONF from the environment of the `srun` it runs inside each job: `start` refuses to run
# where that file exists and was not written by this script, so a configured Slurm is left alone.
# No cgroups (proctrack/linuxproc, task/none) and no accounting: the client must poll with
# `squeue` (slurm-status-command), which MinJobAge below keeps reliable.
# Needs root (daemons run as root). Tested with Debian 12's slurm-wlm 22.05 and munge 0.5.15.
set -euo pipefail

DIR=${SIEVE_SLURM_DIR:-/tmp/sieve-slurm}
CTLD_PORT=${SIEVE_SLURM_PORT:-6917}        # slurmd uses the next port
NODES=(n1 n2)                              # two node names on this host, one slurmd each (-N)
DAEMONS=(slurmd-n1 slurmd-n2 slurmctld munged)  # stop order
CONF=/etc/slurm/slurm.conf
MARK="# Written by tests/workflow/slurm/local_slurm.sh"

die() { echo "local_slurm: $*" >&2; exit 1; }

alive() { [[ -s $DIR/$1.pid ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.5 s
  local tries=$(($1 * 2)) what=$2; shift 2
  for ((i = 0; i < tries; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "timed out waiting for $what (logs in $DIR/log)"
}

install_packages() {
  local missing=()
  for cmd in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${cmd%%:*}" >/dev/null || [[ -x /usr/sbin/${cmd%%:*} ]] || missing+=("${cmd#*:}")
  done
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
  echo "local_slurm: installing ${missing[*]}" >&2
  apt-get update -qq || die "apt-get update failed (no package mirror reachable?)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || die "apt-get install ${missing[*]} failed"
}

write_config() {
  local node cpus mem_mb
  node=$(hostname -s)
  cpus=$(nproc)  # per node, twice the cores in all: two 2-thread test jobs at once on 2 cores
  mem_mb=$((($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048) / 2))  # 2 GiB for the OS
  mkdir -p "$(dirname "$CONF")"
  cat >"$CONF" <<CONF
${MARK} for host ${node} (state in ${DIR}); removed by its stop.
ClusterName=sievetest
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=$((CTLD_PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=${DIR}/munge/munge.socket
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# Trust the CPU count below rather than the hardware's (it is twice the cores).
SlurmdParameters=config_overrides
# Finished jobs stay visible to squeue (the executor plugin polls with it) and scontrol for 1 h.
MinJobAge=3600
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=${DIR}/state
SlurmdSpoolDir=${DIR}/spool/%n
SlurmctldPidFile=${DIR}/slurmctld.pid
SlurmdPidFile=${DIR}/slurmd-%n.pid
SlurmctldLogFile=${DIR}/log/slurmctld.log
SlurmdLogFile=${DIR}/log/slurmd-%n.log
# Two node names on this one host (a slurmd each, on its own port), so that multi-node jobs run.
NodeName=n1 NodeHostname=${node} NodeAddr=127.0.0.1 Port=$((CTLD_PORT + 2)) CPUs=${cpus} Sockets=1 CoresPerSocket=${cpus} ThreadsPerCore=1 RealMemory=${mem_mb} State=UNKNOWN
NodeName=n2 NodeHostname=${node} NodeAddr=127.0.0.1 Port=$((CTLD_PORT + 3)) CPUs=${cpus} Sockets=1 CoresPerSocket=${cpus} ThreadsPerCore=1 RealMemory=${mem_mb} State=UNKNOWN
# Two partitions named as in profiles/slurm/partitions.yaml.
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL Default=NO MaxTime=INFINITE State=UP
CONF
}

start_munge() {
  alive munged && return 0
  mkdir -p "$DIR/munge"
  chmod 700 "$DIR/munge"
  [[ -s $DIR/munge/munge.key ]] || mungekey --create --keyfile="$DIR/munge/munge.key" \
    || dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$DIR/munge/munge.key"
  /usr/sbin/munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed"
  wait_for 10 "munged" bash -c "munge -n -S '$DIR/munge/munge.socket' | unmunge -S '$DIR/munge/munge.socket'"
}

nodes_idle() {
  for name in "${NODES[@]}"; do
    [[ $(sinfo -h -n "$name" -o %T 2>/dev/null | head -1) =~ ^(idle|mixed|allocated)$ ]] || return 1
  done
}

start() {
  [[ $(id -u) == 0 ]] || die "must run as root (it starts munged, slurmctld and slurmd)"
  install_packages
  if [[ -e $CONF ]] && [[ $(head -c ${#MARK} "$CONF") != "$MARK" ]]; then
    die "$CONF exists and was not written by this script: not touching a configured Slurm"
  fi
  mkdir -p "$DIR"/{state,spool,log}
  if ! alive slurmctld; then
    write_config
    start_munge
    /usr/sbin/slurmctld -c    # -c: no job or node state from an earlier run
  fi
  wait_for 30 "slurmctld" bash -c 'scontrol ping | grep -q UP'
  for name in "${NODES[@]}"; do
    mkdir -p "$DIR/spool/$name"
    alive "slurmd-$name" || /usr/sbin/slurmd -N "$name"
  done
  wait_for 60 "the nodes to become idle" nodes_idle
  sinfo -N -o '%N %P %T %c %m'
}

stop() {
  for daemon in "${DAEMONS[@]}"; do
    alive "$daemon" || { rm -f "$DIR/$daemon.pid"; continue; }
    local pid
    pid=$(cat "$DIR/$daemon.pid")
    kill "$pid"
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    rm -f "$DIR/$daemon.pid"
    echo "local_slurm: stopped $daemon ($pid)" >&2
  done
  if [[ -e $CONF ]] && [[ $(head -c ${#MARK} "$CONF") == "$MARK" ]]; then rm -f "$CONF"; fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
