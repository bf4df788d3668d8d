"""Run the ``oda`` command line in a child process, as a user would, with no LLM configured and no debug output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_oda(
    args: list[str], cwd: Path, *, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess[str]:
    """``oda ARGS`` in ``cwd`` with the project on the path; ``env`` adds or overrides variables."""
    environ = dict(os.environ)
    environ.pop("ODA_DEBUG", None)
    environ.update({"PYTHONPATH": str(ROOT), "ODA_LLM_BASE_URL": "", "ODA_LLM_MODEL": "", **env})
    return subprocess.run(
        [sys.executable, "-c", "from oda.cli import main; main()", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
