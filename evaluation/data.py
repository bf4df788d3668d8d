"""Where the evaluation data lives: ``$ODA_SHARED_DATA``, else ``shared/data`` beside the project checkout."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The folder holding ``dpi/``, ``real-cards/`` and ``oda-leaderboard/`` (it is not part of the project)."""
    configured = os.environ.get("ODA_SHARED_DATA")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"
