#!/usr/bin/env bash
# Create a venv ($1, default .venv-plain) by a plain `pip install -e .[dev]` (no heavy extras: the resolution a user
# gets), show what it resolved for the Hub client, and run every quick test in it (tests that need an extra skip with
# its name), then the slow acquisition and tracing tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-plain}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
"$VENV/bin/pip" install -q -e '.[dev]'
"$VENV/bin/python" - <<'PY'
import huggingface_hub
from acquisition.transports import hub_http_library
lib = hub_http_library()
print(f"plain install: huggingface_hub {huggingface_hub.__version__} on {lib.__name__} {lib.__version__}")
PY
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
"$VENV/bin/python" -m pytest tests -q -m "not integration and not slow" -p no:cacheprovider
"$VENV/bin/python" -m pytest tests/acquisition tests/trace -q -m "slow and not integration" -p no:cacheprovider
