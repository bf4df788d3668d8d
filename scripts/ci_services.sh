#!/usr/bin/env bash
# System services for the integration tests: a single-node Slurm cluster and Debian's Chromium for the
# browser test. The Bolt server (ArcadeDB) is started by the test suite itself.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "ci_services: not root; skipping system packages" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge chromium chromium-driver >/dev/null
if [ -f scripts/start_slurm.sh ]; then
  bash scripts/start_slurm.sh
fi
# Postgres for the service's scale-out tests (queue, checkpoints): a cluster on loopback with role/db oda.
bash scripts/start_postgres.sh
