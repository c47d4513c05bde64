#!/usr/bin/env bash
# scripts/cluster-test.sh — the Slurm example (scripts/slurm/dctrain.sbatch) on a real
# single-host Slurm cluster: munged, slurmctld and slurmd from Debian's packages, started
# as root with a generated key and slurm.conf in a temporary directory (their own socket,
# ports, state and spool: a system Slurm or munge is left alone).
#
# It trains a short LeNet-300-100 experiment (real MNIST, data/mnist) with 2 tasks twice
# through the sbatch example: once uninterrupted, and once stopped three times on the way,
# each time the way a cluster would stop it:
#   - dense training: `scancel --signal=USR1` (what the example's `#SBATCH --signal=USR1@300`
#     does before the time limit: every task of the step gets SIGUSR1, the script does not);
#   - the prune round: `scontrol requeue` (preemption: SIGTERM to the tasks and the script,
#     and Slurm requeues the job itself);
#   - quantization: `scancel --signal=USR1 --full` (the script and srun get it too).
# Every time dctrain must stop with a checkpoint and status 75, the job come back, and
# --resume auto carry on; the chain must end with a model.dcz identical byte for byte to
# the uninterrupted run's (threads = 1, the same 2 ranks). Last, a plain `scancel` must
# stop a job with a checkpoint too, but leave it cancelled (not requeued).
#
#   sudo scripts/cluster-test.sh [--keep]     --keep: leave the temporary directory
#
# Prints one PASS or FAIL line with the time taken; exits 0 on PASS. Every daemon it
# started is stopped on exit, also on failure or Ctrl-C. Needs root (the daemons run as
# root, SlurmUser=root), the packages slurm-wlm and munge (scripts/setup.sh installs
# them) and an MPI build of build/dctrain.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
t_start=$(date +%s)

keep=0
for a in "$@"; do
  case $a in
    --keep) keep=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster-test: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "cluster-test: $*"; }
elapsed() { echo $(($(date +%s) - t_start)); }

T=""
fail() {
  say "$*"
  if [ -n "$T" ] && [ -d "$T" ]; then
    for f in "$T"/ref.out "$T"/chain.out "$T"/cancel.out "$T"/log/slurmctld.log "$T"/log/slurmd.log; do
      [ -s "$f" ] && { echo "---- last lines of $f"; tail -n 15 "$f"; }
    done
    keep=1
    say "files kept in $T"
  fi
  echo "cluster-test: FAIL after $(elapsed) s"
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (it starts munged, slurmctld and slurmd as root)"

# What it needs: Debian's Slurm and munge, an MPI build of dctrain, MNIST.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null ||
  [ ! -x build/dctrain ]; then
  bash scripts/setup.sh
fi
ldd build/dctrain | grep libmpi >/dev/null || fail "build/dctrain is built without MPI (install libopenmpi-dev, rerun scripts/setup.sh)"
[ -e data/mnist/train-images-idx3-ubyte ] || [ -e data/mnist/train-images-idx3-ubyte.gz ] ||
  bash scripts/fetch-mnist.sh data/mnist

# ---- the cluster -------------------------------------------------------------------
# The tree: T itself 0711 and run/ 0755 (munged insists that its socket's directory be
# reachable by all), the key 0600 in a 0700 directory.
T=$(mktemp -d /tmp/dctrain-cluster.XXXXXX)
chmod 711 "$T"
mkdir -p "$T"/run "$T"/munge "$T"/state "$T"/spool/slurmd-localhost "$T"/log
chmod 755 "$T"/run
chmod 700 "$T"/munge
export SLURM_CONF=$T/slurm.conf

started=() # pid files of the daemons we started, in start order
cleanup() {
  local rc=$?
  set +e
  trap '' INT TERM PIPE # finish the cleanup whatever happens to our terminal or pipe
  if [ -s "$T/run/slurmctld.pid" ]; then
    scancel --quiet --user=root >/dev/null 2>&1
    for _ in $(seq 60); do # the jobs end within KillWait (10 s)
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  local f pid pids=()
  for f in "${started[@]}"; do
    pid=$(cat "$f" 2>/dev/null) && kill "$pid" 2>/dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  done
  # anything left of our jobs (a step daemon, a rank) carries our SLURM_CONF
  for p in /proc/[0-9]*; do
    if grep -qsF "SLURM_CONF=$SLURM_CONF" "$p/environ" 2>/dev/null; then
      pid=${p#/proc/}
      [ "$pid" = "$$" ] && continue
      echo "cluster-test: killing leftover process $pid: $(tr '\0' ' ' < "$p/cmdline")" >&2
      kill -9 "$pid" 2>/dev/null
    fi
  done
  if [ "$keep" -eq 0 ]; then rm -rf "$T"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two free TCP ports next to each other (ours, not a system Slurm's 6817/6818), below
# Linux's ephemeral range (32768 and up).
port=$((10000 + RANDOM % 20000))
while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/$((port + 1))) 2>/dev/null; do
  port=$((port + 2))
done

# The node as slurmd sees this machine (CPUs, sockets, cores, threads, memory).
hw=$(slurmd -C | sed -n '1s/^NodeName=[^ ]* //p')
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
[ "${cpus:-0}" -ge 2 ] || fail "this machine has ${cpus:-?} CPU; the test runs 2 tasks"

# cred_expire is also how long a requeued job waits before it may start again (120 s by
# default; 5 here to keep the test short); sched_interval: how often pending jobs are
# looked at (60 s by default). KillWait: 10 s from SIGTERM to SIGKILL.
cat > "$SLURM_CONF" <<EOF
# generated by scripts/cluster-test.sh
ClusterName=dctrain-test
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/run/munge.sock,cred_expire=5
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool/slurmd-%n
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmdPidFile=$T/run/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
PlugStackConfig=$T/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
MpiDefault=pmix
ReturnToService=2
KillWait=10
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
: > "$T/plugstack.conf"

# A fresh munge key for this cluster only.
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$T/munge/munge.key"

start_daemon() { # pidfile command...
  local pidfile=$1
  shift
  started+=("$pidfile")
  "$@" > "$T/log/$(basename "$pidfile" .pid).start.log" 2>&1 ||
    fail "$1 did not start: $(tail -n 3 "$T/log/$(basename "$pidfile" .pid).start.log")"
  for _ in $(seq 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  fail "$1 wrote no pid file $pidfile"
}
start_daemon "$T/run/munged.pid" munged --socket="$T/run/munge.sock" --key-file="$T/munge/munge.key" \
  --pid-file="$T/run/munged.pid" --log-file="$T/log/munged.log" --seed-file="$T/munge/seed"
start_daemon "$T/run/slurmctld.pid" slurmctld
start_daemon "$T/run/slurmd.pid" slurmd -N localhost
for i in $(seq 100); do
  state=$(sinfo -h -N -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  [ "$i" -eq 100 ] && fail "the node never came up (sinfo: '${state:-no answer}')"
  sleep 0.2
done
say "Slurm $(slurmctld -V | cut -d' ' -f2) up on localhost ($cpus CPUs, ports $port-$((port + 1)), $T) in $(elapsed) s"

# ---- the experiment: LeNet-300-100 on MNIST, dense + one prune round + quantize + encode
cat > "$T/exp.cfg" <<EOF
[experiment]
name = cluster-test
net = $root/nets/lenet300.net
seed = 1
threads = 1
[data]
dir = $root/data/mnist
test_limit = 2000
[solver]
base_lr = 0.01
momentum = 0.9
weight_decay = 0.0005
lr_policy = inv
gamma = 0.0001
power = 0.75
batch = 64
max_iter = 3000
test_batch = 100
test_interval = 500
display = 50
snapshot = 0
[prune]
rounds = 1
retrain_iters = 3000
base_lr = 0.005
ip1 = 8%
ip2 = 9%
ip3 = 26%
[quantize]
fc_bits = 6
retrain_iters = 2000
base_lr = 0.001
[encode]
EOF

# sbatch from the checkout, as a user would: the example finds build/dctrain there. The
# command line overrides the example's layout (2 nodes x 1 task x 16 threads).
submit() { # NAME: prints the job id
  sbatch --parsable --job-name="$1" --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=10 \
    --output="$T/$1.out" scripts/slurm/dctrain.sbatch "$T/exp.cfg" --output "$T/$1"
}
job_field() { # JOB FIELD: a field of `scontrol show job`
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}
wait_done() { # JOB SECONDS: until the job is no longer pending, running or requeued
  local s
  for _ in $(seq $(($2 * 5))); do
    s=$(job_field "$1" JobState)
    case $s in PENDING | CONFIGURING | RUNNING | COMPLETING | REQUEUED | REQUEUE_FED | RESIZING | "") ;;
      *) echo "$s"; return 0 ;;
    esac
    sleep 0.2
  done
  echo "TIMEOUT($s)"
}
wait_log() { # JOB FILE TEXT SECONDS: until FILE has TEXT while the job runs
  for _ in $(seq $(($4 * 5))); do
    grep -qF -- "$3" "$2" 2>/dev/null && [ "$(job_field "$1" JobState)" = RUNNING ] && return 0
    sleep 0.2
  done
  fail "job $1 never showed '$3' in $2 while running"
}

# 1. The reference: uninterrupted, 2 tasks.
t0=$(date +%s)
ref=$(submit ref) || fail "sbatch failed"
s=$(wait_done "$ref" 150)
[ "$s" = COMPLETED ] || fail "the uninterrupted job $ref ended $s"
[ -s "$T/ref/model.dcz" ] || fail "the uninterrupted job wrote no model.dcz"
[ "$(job_field "$ref" Restarts)" = 0 ] || fail "the uninterrupted job was requeued"
t_ref=$(($(date +%s) - t0))
say "uninterrupted 2-task job: $t_ref s"

# 2. The chain: stopped in dense training like before a time limit, preempted in the
#    prune round, stopped by a signal to the whole job in quantization, finished.
t0=$(date +%s)
chain=$(submit chain) || fail "sbatch failed"
log=$T/chain.out
wait_log "$chain" "$log" "[train] iter    500/3000" 120
scancel --signal=USR1 "$chain"
wait_log "$chain" "$log" "job $chain run 2 " 120
wait_log "$chain" "$log" "[prune1] iter    100/3000" 120
scontrol requeue "$chain"
wait_log "$chain" "$log" "job $chain run 3 " 120
wait_log "$chain" "$log" "[quantize] iter    100/2000" 120
scancel --signal=USR1 --full "$chain"
s=$(wait_done "$chain" 150)
[ "$s" = COMPLETED ] || fail "the preempted job $chain ended $s"
t_chain=$(($(date +%s) - t0))
restarts=$(job_field "$chain" Restarts)
for stage in train prune1 quantize; do
  grep -q "^\[$stage\] stopped at iteration .* by a signal" "$log" || fail "no stop with a checkpoint in stage $stage"
done
stops=$(grep -c "stopped at iteration .* by a signal" "$log" || true)
exits=$(grep -c "tasks 0-1: Exited with exit code 75" "$log" || true)
resumed=$(grep -c -- "--resume auto: $T/chain/ckpt.h5" "$log" || true)
[ "$restarts" = 3 ] && [ "$stops" = 3 ] && [ "$exits" = 3 ] && [ "$resumed" = 3 ] ||
  fail "expected 3 stops (status 75 from both tasks) and 3 resumed runs, got $stops stops, $exits times" \
    "status 75, $resumed resumed, Restarts=$restarts"
say "stopped 3 times (time-limit signal, preemption, signal to the whole job), requeued, resumed:" \
  "$((restarts + 1)) runs in $t_chain s"

# 3. A cancelled job stops with a checkpoint too, and stays cancelled.
cancel=$(submit cancel) || fail "sbatch failed"
wait_log "$cancel" "$T/cancel.out" "[train] iter    100/3000" 120
scancel "$cancel"
s=$(wait_done "$cancel" 60)
[ "$s" = CANCELLED ] && [ "$(job_field "$cancel" Restarts)" = 0 ] && [ -s "$T/cancel/ckpt.h5" ] &&
  grep -q "not requeued" "$T/cancel.out" ||
  fail "the cancelled job $cancel ended $s, Restarts=$(job_field "$cancel" Restarts), expected CANCELLED without" \
    "a requeue and with a checkpoint"
say "a cancelled job: stopped with a checkpoint and not requeued"

# 4. The same model, byte for byte.
cmp -s "$T/ref/model.dcz" "$T/chain/model.dcz" ||
  fail "model.dcz of the preempted chain differs from the uninterrupted run's ($(cmp "$T/ref/model.dcz" "$T/chain/model.dcz" 2>&1 | head -n 1))"
echo "cluster-test: PASS in $(elapsed) s: model.dcz ($(stat -c %s "$T/ref/model.dcz") bytes) of the thrice-stopped" \
  "job identical to the uninterrupted one"
