"""Terminal output: rich for people, plain JSON on stdout for machines (``--json``)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console

console = Console(stderr=True)


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", exclude_none=True)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def to_json(obj: Any, *, indent: int | None = 2) -> str:
    return json.dumps(obj, default=_default, indent=indent, ensure_ascii=False)


def emit_json(obj: Any) -> None:
    """Write ``obj`` as JSON to stdout (never mixed with progress output, which goes to stderr)."""
    sys.stdout.write(to_json(obj) + "\n")
    sys.stdout.flush()
