"""Suite-wide settings. Each part keeps its own fixtures in tests/<part>/conftest.py."""

import os

import pytest

# torch on two busy cores is very slow with more than one thread per process.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Never let a test reach the real Hub by accident.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

MACHINE_VARIABLES = frozenset({"ODA_SHARED_DATA", "ODA_OPENLINEAGE_SPEC"})
"""``ODA_*`` variables that describe the machine, not the service's settings: where third-party data and the
OpenLineage schema live."""


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch):
    """Every test starts from the built-in settings: no ``ODA_*`` variable from the calling shell or an earlier
    test (a test sets its own with ``monkeypatch``), and the process-wide string limit at its default."""
    from graph_store import models

    for name in list(os.environ):
        if name.startswith("ODA_") and name not in MACHINE_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setattr(models, "_text_cap", [models.DEFAULT_MAX_TEXT_CHARS])
    yield
