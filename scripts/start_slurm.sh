#!/usr/bin/env bash
# Start a single-node Slurm cluster on this machine (as root, no systemd). Idempotent: writes the config only when it
# changed, starts only the daemons that are not running, and waits until the node is idle. Run it again after
# `scontrol shutdown` (or a crash) to bring the controller back; its saved state survives.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "start_slurm: must run as root" >&2; exit 1; fi
for bin in slurmctld slurmd munged sinfo; do
  command -v "$bin" >/dev/null || { echo "start_slurm: $bin not found (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 1; }
done

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
CONF=/etc/slurm/slurm.conf
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
chown munge:munge /run/munge

NEW_CONF=$(cat <<CONFEOF
# Written by scripts/start_slurm.sh: a single-node cluster for tests.
ClusterName=local
SlurmctldHost=${HOST}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
ReturnToService=2
KillWait=5
NodeName=${HOST} CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONFEOF
)
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$NEW_CONF" ]; then
  printf '%s\n' "$NEW_CONF" > "$CONF"
fi

running() { pgrep -x "$1" >/dev/null 2>&1; }
running munged || runuser -u munge -- /usr/sbin/munged
running slurmctld || slurmctld
running slurmd || slurmd

for _ in $(seq 1 60); do
  state=$(sinfo --noheader --nodes="$HOST" --format=%t 2>/dev/null | head -n1 || true)
  case "$state" in
    idle|mix|alloc) echo "start_slurm: node $HOST is $state"; exit 0 ;;
    down*|drain*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.5
done
echo "start_slurm: node $HOST did not become idle (state: ${state:-unknown}); see /var/log/slurm/" >&2
exit 1
