"""User Cypher: the keyword layer in front of a read-only engine, and the limits every user query runs under.

Read-only is enforced by the engine, not by this module: the embedded store runs user Cypher in a child process
on a database opened read-only (``graph_store.sandbox``), and Neo4j in a READ-mode session with a transaction
timeout. This module is the second layer, and the only one on a Bolt server that does not enforce READ mode:

- ``lex`` reads the statement once, left to right, with strings (``'…'``, ``"…"``, backslash escapes), quoted
  names (`` `…` ``, doubled backticks) and comments (``//…``, ``/*…*/``) recognised in the same pass, so a
  ``//`` inside a string never hides what follows it, and an unterminated string or comment is refused;
- ``check_read_only`` refuses a second statement, every clause that writes or changes the database or the
  session (``CREATE``, ``MERGE``, ``SET``, ``DELETE``, ``DROP``, ``ALTER``, …), every file and extension statement
  (``COPY``, ``LOAD``, ``EXPORT``, ``IMPORT``, ``ATTACH``, ``INSTALL``, ``USE``, …) and every ``CALL`` except
  the read-only catalog procedures in ``READ_PROCEDURES``.

A refusal raises ``ReadOnlyError`` before anything reaches the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from oda.errors import ConfigError, ReadOnlyError

WRITE_KEYWORDS = frozenset(
    {
        # clauses that write
        "CREATE",
        "MERGE",
        "SET",
        "DELETE",
        "DETACH",
        "REMOVE",
        "DROP",
        "ALTER",
        "FOREACH",
        "RENAME",
        # files, extensions, other databases
        "COPY",
        "LOAD",
        "EXPORT",
        "IMPORT",
        "INSTALL",
        "UNINSTALL",
        "ATTACH",
        "USE",
        "UPDATE",
        # transactions and maintenance
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "CHECKPOINT",
        "VACUUM",
        "TERMINATE",
        # administration (Neo4j)
        "GRANT",
        "REVOKE",
        "DENY",
        "START",
        "STOP",
        "ENABLE",
        "DISABLE",
    }
)

# Procedures and table functions that only read the catalog (ladybug and Neo4j). Every other CALL is refused:
# a list of what is safe cannot miss a procedure that writes, a list of what is not can.
READ_PROCEDURES = frozenset(
    {
        # ladybug
        "show_tables",
        "table_info",
        "show_connection",
        "show_functions",
        "show_indexes",
        "db_version",
        "current_setting",
        # Neo4j
        "db.labels",
        "db.relationshiptypes",
        "db.propertykeys",
        "db.schema.visualization",
        "db.schema.nodetypeproperties",
        "db.schema.reltypeproperties",
        "dbms.components",
    }
)

MAX_QUERY_CHARS = 100_000


@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` is word, param, number, string, name (a quoted name), punct."""

    kind: str
    text: str
    at: int


def _read_quoted(query: str, start: int, quote: str) -> int:
    """The index after the closing ``quote`` of a string starting at ``start`` (backslash escapes)."""
    i = start + 1
    end = len(query)
    while i < end:
        char = query[i]
        if char == "\\":
            i += 2
            continue
        if char == quote:
            return i + 1
        i += 1
    raise ReadOnlyError(f"unterminated string starting at character {start}")


def _read_backticked(query: str, start: int) -> int:
    i = start + 1
    end = len(query)
    while i < end:
        if query[i] == "`":
            if i + 1 < end and query[i + 1] == "`":
                i += 2
                continue
            return i + 1
        i += 1
    raise ReadOnlyError(f"unterminated quoted name starting at character {start}")


def _is_word_char(char: str) -> bool:
    return char == "_" or char.isalnum()


def lex(query: str) -> list[Token]:
    """The tokens of ``query`` (comments dropped), read in one pass. Raises ``ReadOnlyError`` on bad text."""
    tokens: list[Token] = []
    i = 0
    end = len(query)
    while i < end:
        char = query[i]
        if char.isspace():
            i += 1
        elif query.startswith("//", i):
            newline = query.find("\n", i)
            i = end if newline < 0 else newline + 1
        elif query.startswith("/*", i):
            close = query.find("*/", i + 2)
            if close < 0:
                raise ReadOnlyError(f"unterminated comment starting at character {i}")
            i = close + 2
        elif char in "'\"":
            stop = _read_quoted(query, i, char)
            tokens.append(Token("string", query[i:stop], i))
            i = stop
        elif char == "`":
            stop = _read_backticked(query, i)
            tokens.append(Token("name", query[i:stop], i))
            i = stop
        elif char == "$":
            stop = i + 1
            while stop < end and _is_word_char(query[stop]):
                stop += 1
            tokens.append(Token("param", query[i:stop], i))
            i = stop
        elif char.isdigit():
            stop = i + 1
            while stop < end and (_is_word_char(query[stop]) or query[stop] == "."):
                if query[stop] == "." and (stop + 1 >= end or not query[stop + 1].isdigit()):
                    break
                stop += 1
            tokens.append(Token("number", query[i:stop], i))
            i = stop
        elif _is_word_char(char):
            stop = i + 1
            while stop < end and _is_word_char(query[stop]):
                stop += 1
            tokens.append(Token("word", query[i:stop], i))
            i = stop
        else:
            tokens.append(Token("punct", char, i))
            i += 1
    return tokens


def _procedure_name(tokens: list[Token], start: int) -> tuple[str, int]:
    """The dotted procedure name starting at ``tokens[start]`` and the index after it."""
    parts: list[str] = []
    i = start
    while i < len(tokens) and tokens[i].kind in ("word", "name"):
        parts.append(tokens[i].text.strip("`"))
        i += 1
        if i < len(tokens) and tokens[i].text == "." and tokens[i].kind == "punct":
            i += 1
            continue
        break
    return ".".join(parts), i


def check_read_only(query: str) -> str:
    """Return the statement (without a trailing ``;``) if it only reads, else raise ``ReadOnlyError``."""
    if not isinstance(query, str) or not query.strip():
        raise ReadOnlyError("empty query")
    if len(query) > MAX_QUERY_CHARS:
        raise ReadOnlyError(f"query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
    if "\x00" in query:
        raise ReadOnlyError("the query contains a NUL character")
    tokens = lex(query)
    if tokens and tokens[-1].kind == "punct" and tokens[-1].text == ";":
        query = query[: tokens[-1].at]
        tokens = tokens[:-1]
    if not tokens:
        raise ReadOnlyError("empty query")
    for index, token in enumerate(tokens):
        if token.kind == "punct" and token.text == ";":
            raise ReadOnlyError("only one statement is allowed (found ';')")
        if token.kind != "word":
            continue
        word = token.text.upper()
        if word in WRITE_KEYWORDS:
            raise ReadOnlyError(f"read-only queries cannot use {word}")
        if word == "CALL":
            name, after = _procedure_name(tokens, index + 1)
            if not name or after >= len(tokens) or tokens[after].text != "(":
                raise ReadOnlyError("read-only queries can only CALL a catalog procedure by name, with (...)")
            if name.lower() not in READ_PROCEDURES:
                raise ReadOnlyError(
                    f"read-only queries cannot CALL {name}; allowed: {', '.join(sorted(READ_PROCEDURES))}"
                )
    return query.strip()


# --- limits -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryLimits:
    """What one user query may use. A query past a limit is stopped and refused with ``QueryLimitError``."""

    timeout_s: float = 30.0
    max_rows: int = 100_000
    max_memory_mb: int = 1024

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ConfigError(f"query timeout must be > 0 seconds, got {self.timeout_s}")
        if self.max_rows < 1:
            raise ConfigError(f"query row limit must be ≥ 1, got {self.max_rows}")
        if self.max_memory_mb < 64:
            raise ConfigError(f"query memory limit must be ≥ 64 MB, got {self.max_memory_mb}")


def make_query_limits(
    timeout_s: float | None = None, max_rows: int | None = None, max_memory_mb: int | None = None
) -> QueryLimits:
    """Limits from the values given (``[store].query_timeout_s``/``query_max_rows``/``query_max_memory_mb`` with
    the command line over them), the defaults for those that are ``None``."""
    default = QueryLimits()
    try:
        return QueryLimits(
            timeout_s=float(timeout_s if timeout_s is not None else default.timeout_s),
            max_rows=int(max_rows if max_rows is not None else default.max_rows),
            max_memory_mb=int(max_memory_mb if max_memory_mb is not None else default.max_memory_mb),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[store] query limits: {exc}") from exc
