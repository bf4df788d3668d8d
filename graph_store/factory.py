"""``open_store(uri)``: pick the store a URI names.

- ``None`` → the configured default (``[store].uri``, else ``.oda/graph``);
- a path or ``embedded:PATH`` → the embedded store at PATH;
- ``bolt://``, ``bolt+s://``, ``bolt+ssc://``, ``neo4j://``, ``neo4j+s://``, ``neo4j+ssc://`` → Neo4j through the
  official driver. Credentials come from ``ODA_NEO4J_USER``/``ODA_NEO4J_PASSWORD`` or ``NEO4J_AUTH=user/password``
  (never from the URI); the database from ``ODA_NEO4J_DATABASE`` or a ``?database=NAME`` query parameter.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit, urlunsplit

from graph_store.base import GraphStore
from oda.errors import ConfigError

BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def neo4j_auth_from_env() -> tuple[str, str] | None:
    """``(user, password)`` from ``ODA_NEO4J_USER``/``ODA_NEO4J_PASSWORD`` or ``NEO4J_AUTH``; None if unset."""
    user = os.environ.get("ODA_NEO4J_USER")
    password = os.environ.get("ODA_NEO4J_PASSWORD")
    if user or password:
        if not (user and password):
            raise ConfigError("set both ODA_NEO4J_USER and ODA_NEO4J_PASSWORD")
        return user, password
    auth = os.environ.get("NEO4J_AUTH")
    if auth:
        if auth.lower() == "none":
            return None
        user, sep, password = auth.partition("/")
        if not sep or not user or not password:
            raise ConfigError("NEO4J_AUTH must look like user/password")
        return user, password
    return None


def open_store(uri: str | None = None, *, create: bool = True, read_only: bool = False) -> GraphStore:
    """Open the store a URI names (see the module docstring).

    ``create=False`` (every read command) raises ``StoreError`` naming the path when an embedded store does not
    exist, instead of creating an empty one; ``read_only`` opens an embedded store so that the engine refuses
    writes (a Neo4j store is shared, so both only matter for the embedded one).
    """
    if uri is None:
        from oda.settings import DEFAULT_STORE_URI

        uri = DEFAULT_STORE_URI
    uri = uri.strip()
    if not uri:
        raise ConfigError("empty store URI")
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in BOLT_SCHEMES:
        parts = urlsplit(uri)
        if parts.username or parts.password:
            raise ConfigError("put Neo4j credentials in ODA_NEO4J_USER/ODA_NEO4J_PASSWORD, not in the URI")
        database = parse_qs(parts.query).get("database", [None])[0] or os.environ.get("ODA_NEO4J_DATABASE")
        clean = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        from graph_store.neo4j_store import Neo4jStore

        return Neo4jStore.connect(clean, auth=neo4j_auth_from_env(), database=database)
    if scheme:
        raise ConfigError(
            f"unknown store URI scheme {scheme!r}; use a path, embedded:PATH, bolt:// or neo4j://"
        )
    path = uri.removeprefix("embedded:")
    from graph_store.embedded import EmbeddedStore

    return EmbeddedStore(os.path.expanduser(path), create=create, read_only=read_only)
