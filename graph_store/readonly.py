"""A conservative check that a user's Cypher statement only reads.

It strips comments and string literals, then refuses statement separators and every clause that writes or changes
the database or session (``CREATE``, ``MERGE``, ``SET``, ``DELETE``, ``REMOVE``, ``DROP``, ``COPY``, ``LOAD``, …).
It is a first line only: each store also runs user Cypher in a transaction that cannot write (Neo4j: READ access
mode and an update-counter check; embedded: a transaction that is always rolled back).
"""

from __future__ import annotations

import re

from oda.errors import ReadOnlyError

WRITE_KEYWORDS = (
    "CREATE",
    "MERGE",
    "SET",
    "DELETE",
    "DETACH",
    "REMOVE",
    "DROP",
    "ALTER",
    "COPY",
    "LOAD",
    "INSTALL",
    "ATTACH",
    "USE",
    "EXPORT",
    "IMPORT",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "CHECKPOINT",
    "FOREACH",
    "TERMINATE",
    "GRANT",
    "REVOKE",
    "DENY",
    "START",
    "STOP",
)

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`]|``)*`", re.S)
_WRITE_RE = re.compile(r"\b(" + "|".join(WRITE_KEYWORDS) + r")\b", re.I)
# CALL is allowed only for a table function or procedure call that yields rows: ``CALL name(...)``.
_CALL_RE = re.compile(r"\bCALL\b(?!\s*[A-Za-z_][\w.]*\s*\()", re.I)
# ...and never one whose name says it changes something (``CALL drop_fts_index(...)``, ``apoc.create.node``).
_WRITING_CALL_RE = re.compile(
    r"\bCALL\s+[\w.]*?(create|drop|clear|set|delete|remove|install|load|checkpoint|import|export|attach|detach"
    r"|update|write|merge|refresh|kill|terminate)[\w.]*\s*\(",
    re.I,
)
MAX_QUERY_CHARS = 100_000


def strip_literals(query: str) -> str:
    """The query with comments removed and string literals blanked (so keywords inside them don't count)."""
    return _STRINGS.sub("''", _COMMENTS.sub(" ", query))


def check_read_only(query: str) -> str:
    """Return the query stripped of a trailing ``;`` if it looks read-only, else raise ``ReadOnlyError``."""
    if not isinstance(query, str) or not query.strip():
        raise ReadOnlyError("empty query")
    if len(query) > MAX_QUERY_CHARS:
        raise ReadOnlyError(f"query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
    bare = strip_literals(query).strip()
    if bare.endswith(";"):
        bare = bare[:-1]
        query = query.rstrip().removesuffix(";")
    if ";" in bare:
        raise ReadOnlyError("only one statement is allowed (found ';')")
    match = _WRITE_RE.search(bare)
    if match:
        raise ReadOnlyError(f"read-only queries cannot use {match.group(1).upper()}")
    if _CALL_RE.search(bare):
        raise ReadOnlyError("read-only queries can only CALL a procedure or table function by name")
    writing_call = _WRITING_CALL_RE.search(bare)
    if writing_call:
        raise ReadOnlyError(
            f"read-only queries cannot CALL a procedure that {writing_call.group(1).lower()}s"
        )
    return query
