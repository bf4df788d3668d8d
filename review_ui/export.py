"""Export the review decision log."""

from __future__ import annotations

import json
from typing import TextIO

from graph_store.base import GraphStore


def write_audit_jsonl(store: GraphStore, handle: TextIO) -> int:
    """Write every audit entry as one JSON object per line, oldest first; return how many were written."""
    count = 0
    for entry in store.audit_log():
        handle.write(json.dumps(entry.model_dump(mode="json"), ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    handle.flush()
    return count
