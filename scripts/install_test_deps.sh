#!/usr/bin/env bash
# Install the project with everything its test suite exercises into the virtualenv whose bin/ is $1.
# torch is pinned to the CPU build that lies on disk; torch-heavy extras are installed in the same pip command.
set -euo pipefail
BIN=${1:-.venv/bin}
"$BIN/pip" install -q -e '.[dev,bolt]'
