"""Suite-wide settings. Each part keeps its own fixtures in tests/<part>/conftest.py."""

import os

# torch on two busy cores is very slow with more than one thread per process.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Never let a test reach the real Hub by accident.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
