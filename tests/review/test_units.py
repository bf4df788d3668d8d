"""The review app's building blocks: tokens, sessions, evidence highlighting, queue order, picture layout."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from graph_store.models import Edge, EdgeStatus
from oda.errors import ConfigError
from review_ui.auth import SESSION_MAX_AGE_S, Authenticator, Session, load_tokens, parse_tokens
from review_ui.evidence import highlight, locate
from review_ui.lineage_svg import MAX_PER_COLUMN, layout
from review_ui.queue import QueueFilter, descendant_counts


# --- tokens ----------------------------------------------------------------------------------------------------
def test_tokens_from_env_value() -> None:
    assert parse_tokens("alice:tok1-a, bob:tok2-b ,") == {"tok1-a": "alice", "tok2-b": "bob"}


def test_tokens_from_file_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# reviewers\nalice:tok1-a\n\nbob:tok2-b  # night shift\n", encoding="utf-8")
    assert load_tokens(path) == {"tok1-a": "alice", "tok2-b": "bob"}


def test_tokens_file_wins_over_env(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("carol:tok3-c\n", encoding="utf-8")
    assert load_tokens(path, env={"ODA_REVIEW_TOKENS": "alice:tok1-a"}) == {"tok3-c": "carol"}
    assert load_tokens(None, env={"ODA_REVIEW_TOKENS": "alice:tok1-a"}) == {"tok1-a": "alice"}
    assert load_tokens(None, env={}) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alice", "expected 'reviewer:token'"),
        ("alice:", "expected 'reviewer:token'"),
        ("al ice:tok1-a", "invalid reviewer name"),
        ("alice:ab", "too short"),
        ("alice:tok1-a,bob:tok1-a", "same token"),
    ],
)
def test_malformed_tokens_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_tokens(text)


def test_missing_tokens_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_tokens(tmp_path / "absent")


# --- sessions and CSRF -----------------------------------------------------------------------------------------
def test_session_round_trip_and_tampering() -> None:
    auth = Authenticator({"tok1-a": "alice"}, secret=b"k" * 32)
    cookie = auth.encode_session(auth.new_session("alice"))
    session = auth.decode_session(cookie)
    assert session is not None and session.reviewer == "alice"
    body, _, sig = cookie.partition(".")
    forged = auth.encode_session(Session(sid=session.sid, reviewer="bob", issued_at=session.issued_at))
    assert auth.decode_session(forged.split(".")[0] + "." + sig) is None
    assert auth.decode_session(body + ".AAAA") is None
    assert auth.decode_session("garbage") is None
    other = Authenticator({"tok1-a": "alice"}, secret=b"z" * 32)
    assert other.decode_session(cookie) is None


def test_expired_or_revoked_sessions_are_signed_out() -> None:
    auth = Authenticator({"tok1-a": "alice"}, secret=b"k" * 32)
    old = Session(sid="s", reviewer="alice", issued_at=int(time.time()) - SESSION_MAX_AGE_S - 5)
    assert auth.decode_session(auth.encode_session(old)) is None
    cookie = auth.encode_session(auth.new_session("alice"))
    revoked = Authenticator({"tok2-b": "bob"}, secret=b"k" * 32)
    session = revoked.decode_session(cookie)
    assert session is not None and session.reviewer is None


def test_csrf_token_is_bound_to_the_session() -> None:
    auth = Authenticator({}, secret=b"k" * 32)
    one, two = auth.new_session(), auth.new_session()
    assert auth.check_csrf(one, auth.csrf_token(one))
    assert not auth.check_csrf(two, auth.csrf_token(one))
    assert not auth.check_csrf(one, "")
    assert not auth.check_csrf(None, auth.csrf_token(one))


def test_bearer_header() -> None:
    auth = Authenticator({"tok1-a": "alice"})
    assert auth.reviewer_for_header("Bearer tok1-a") == "alice"
    assert auth.reviewer_for_header("bearer  tok1-a ") == "alice"
    assert auth.reviewer_for_header("Basic tok1-a") is None
    assert auth.reviewer_for_header("Bearer tok1") is None
    assert auth.reviewer_for_header(None) is None


# --- evidence --------------------------------------------------------------------------------------------------
def test_locate_ignores_case_and_whitespace() -> None:
    context = "The data was DERIVED\n  from   GSM8K and MATH."
    [(start, end)] = locate("derived from gsm8k", context)
    assert context[start:end] == "DERIVED\n  from   GSM8K"
    assert locate("derived from MetaMath", context) == []
    assert locate("", context) == []


def test_highlight_marks_every_match_in_a_window() -> None:
    context = "x" * 1000 + " seed data here, and seed data there " + "y" * 1000
    segments, before, after = highlight("seed data", context, window=50)
    assert before and after
    assert [s.text for s in segments if s.match] == ["seed data", "seed data"]
    assert "".join(s.text for s in segments) in context


def test_highlight_keeps_markup_as_plain_text() -> None:
    segments, _, _ = highlight("<b>x</b>", "a <b>x</b> b")
    assert [s.text for s in segments if s.match] == ["<b>x</b>"]


# --- queue -----------------------------------------------------------------------------------------------------
def edge(target: str, source: str, status: EdgeStatus = EdgeStatus.AUTO, confidence: float = 0.9) -> Edge:
    return Edge(target=target, source=source, relationship="subset", confidence=confidence, status=status)


def test_descendant_counts_follow_the_graph_and_skip_rejected_edges() -> None:
    edges = [
        edge("o/b", "o/a"),
        edge("o/c", "o/b"),
        edge("o/d", "o/b"),
        edge("o/d", "o/c"),
        edge("o/e", "o/a", EdgeStatus.REJECTED),
        edge("o/a", "o/d"),  # a cycle must not loop forever
    ]
    counts = descendant_counts(edges, ["o/b", "o/c", "o/e", "o/a"])
    assert counts == {"o/b": 3, "o/c": 3, "o/e": 0, "o/a": 3}


def test_queue_filter_normalizes_and_carries_only_non_defaults() -> None:
    view = QueueFilter(sort="random", domain=" Math ").normalized()
    assert view.sort == "downstream" and view.domain == "Math"
    assert view.as_params() == {"domain": "Math"}
    assert QueueFilter(sort="confidence").as_params() == {"sort": "confidence"}


# --- picture ---------------------------------------------------------------------------------------------------
def test_layout_places_parents_target_children_and_marks_the_edge() -> None:
    current = edge("o/t", "o/p1", EdgeStatus.FLAGGED, 0.3)
    parents = [current, edge("o/t", "o/p2")]
    children = [edge(f"o/c{i}", "o/t") for i in range(MAX_PER_COLUMN + 3)]
    picture = layout(current, parents, children)
    roles = {n.role for n in picture.nodes}
    assert roles == {"parent", "target", "child"}
    assert [n.id for n in picture.nodes if n.current] == ["o/p1"]
    assert sum(1 for link in picture.links if link.current) == 1
    assert picture.more_children == 3
    assert sum(1 for n in picture.nodes if n.role == "child") == MAX_PER_COLUMN
    for node in picture.nodes:
        assert 0 <= node.x <= picture.width - picture.box_w
        assert 0 <= node.y <= picture.height - picture.box_h


# --- the curated catalog ---------------------------------------------------------------------------------------
def test_catalog_check_knows_curated_ids() -> None:
    from review_ui.service import catalog_check_from_lineage

    check = catalog_check_from_lineage()
    assert check is not None
    assert check("KbsdJames/Omni-MATH")
    assert check("kbsdjames/omni-math")  # Hub ids are case-insensitive
    assert not check("org/never-catalogued")
