#!/usr/bin/env bash
# Rebuild the quickstart snapshot from the hand-written demo world:
#   examples/demo/world  ->  examples/demo/snapshot
# The snapshot is what `oda trace examples/demo/queue.txt --snapshot examples/demo/snapshot --offline` replays.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf examples/demo/snapshot
oda hub build-snapshot examples/demo/world -o examples/demo/snapshot "$@"
