"""Reviewer identity, sessions and CSRF tokens.

Writes need a reviewer token. Tokens come from ``ODA_REVIEW_TOKENS`` (``"alice:tok1,bob:tok2"``) or from a file
with one ``reviewer:token`` per line (``#`` starts a comment). A browser signs in once with its token and then
carries a signed session cookie; scripts send ``Authorization: Bearer <token>`` on every request.

Sessions are stateless: the cookie holds the reviewer name, a random session id and the time it was issued,
signed with HMAC-SHA256 under a server secret. Every HTML form carries a CSRF token derived from the session id
(``HMAC(secret, "csrf|" + sid)``), so a page on another origin can neither read nor forge it. A session whose
reviewer no longer has a token is treated as signed out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from oda.errors import ConfigError

TOKENS_ENV = "ODA_REVIEW_TOKENS"
SESSION_MAX_AGE_S = 12 * 3600
_REVIEWER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$")
MIN_TOKEN_CHARS = 4


def parse_tokens(text: str, *, where: str = TOKENS_ENV, separator: str = ",") -> dict[str, str]:
    """Parse ``reviewer:token`` pairs into ``{token: reviewer}``. Raises ``ConfigError`` naming the bad entry."""
    table: dict[str, str] = {}
    chunks = text.split(separator) if separator != "\n" else text.splitlines()
    for number, raw in enumerate(chunks, start=1):
        entry = raw.split("#", 1)[0].strip() if separator == "\n" else raw.strip()
        if not entry:
            continue
        reviewer, sep, token = entry.partition(":")
        reviewer, token = reviewer.strip(), token.strip()
        label = f"{where} entry {number}"
        if not sep or not reviewer or not token:
            raise ConfigError(f"{label}: expected 'reviewer:token'")
        if not _REVIEWER_RE.match(reviewer):
            raise ConfigError(f"{label}: invalid reviewer name {reviewer[:40]!r}")
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
            raise ConfigError(f"{label}: the token for {reviewer} is too short or contains spaces")
        if token in table and table[token] != reviewer:
            raise ConfigError(f"{label}: the same token is given to {table[token]} and {reviewer}")
        table[token] = reviewer
    return table


def load_tokens(
    tokens_file: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Reviewer tokens from ``tokens_file`` when given, else from ``$ODA_REVIEW_TOKENS`` (may be empty)."""
    if tokens_file is not None:
        path = Path(tokens_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the reviewer tokens file {path}: {exc.strerror or exc}") from exc
        return parse_tokens(text, where=str(path), separator="\n")
    environ = os.environ if env is None else env
    return parse_tokens(environ.get(TOKENS_ENV, ""))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """A browser session: ``reviewer`` is None until the browser signs in."""

    sid: str
    reviewer: str | None
    issued_at: int


class Authenticator:
    """Resolves tokens to reviewers and signs/verifies session cookies and CSRF tokens."""

    def __init__(self, tokens: Mapping[str, str], secret: bytes | None = None) -> None:
        self._tokens = dict(tokens)
        self._secret = secret or secrets.token_bytes(32)

    @property
    def reviewers(self) -> set[str]:
        return set(self._tokens.values())

    def reviewer_for_token(self, token: str | None) -> str | None:
        """The reviewer a token belongs to, compared in constant time; None when unknown."""
        if not token:
            return None
        found: str | None = None
        presented = token.encode("utf-8")
        for known, reviewer in self._tokens.items():
            if hmac.compare_digest(known.encode("utf-8"), presented):
                found = reviewer
        return found

    def reviewer_for_header(self, authorization: str | None) -> str | None:
        """The reviewer named by an ``Authorization: Bearer <token>`` header."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.reviewer_for_token(value.strip())

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, payload, hashlib.sha256).digest())

    def new_session(self, reviewer: str | None = None) -> Session:
        return Session(sid=secrets.token_urlsafe(18), reviewer=reviewer, issued_at=int(time.time()))

    def encode_session(self, session: Session) -> str:
        payload = json.dumps({"sid": session.sid, "r": session.reviewer, "iat": session.issued_at}).encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def decode_session(self, cookie: str | None) -> Session | None:
        """Verify a session cookie; None when it is missing, forged, expired or its reviewer lost their token."""
        if not cookie or "." not in cookie:
            return None
        body, _, signature = cookie.partition(".")
        try:
            payload = _unb64(body)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = json.loads(payload)
            session = Session(sid=str(data["sid"]), reviewer=data.get("r"), issued_at=int(data["iat"]))
        except (ValueError, KeyError, TypeError):
            return None
        if time.time() - session.issued_at > SESSION_MAX_AGE_S:
            return None
        if session.reviewer is not None and session.reviewer not in self.reviewers:
            return Session(sid=session.sid, reviewer=None, issued_at=session.issued_at)
        return session

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf|{session.sid}".encode())

    def check_csrf(self, session: Session | None, presented: str | None) -> bool:
        if session is None or not presented:
            return False
        return hmac.compare_digest(self.csrf_token(session), presented)
