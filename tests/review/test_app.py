"""Every route of the review app, in process through ``httpx.ASGITransport``, over a real embedded store."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import httpx
import pytest
from fastapi import FastAPI

from graph_store.base import GraphStore
from graph_store.models import Edge, EdgeStatus, Relationship
from tests.review.conftest import ALICE, BOB, SCRIPT_EVIDENCE, csrf_of, make_app, new_client, sign_in

A_BASE = {"target": "org/derived-a", "source": "org/base-math"}
A_OTHER = {"target": "org/derived-a", "source": "org/other-src"}
B_BASE = {"target": "org/derived-b", "source": "org/base-math"}


def queue_order(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-target="([^"]+)" data-source="([^"]+)"', html)


# --- reading ---------------------------------------------------------------------------------------------------
async def test_root_redirects_to_the_queue(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_queue_puts_the_widest_downstream_first(client: httpx.AsyncClient) -> None:
    response = await client.get("/queue")
    assert response.status_code == 200
    assert queue_order(response.text) == [
        ("org/derived-a", "org/base-math"),
        ("org/derived-a", "org/other-src"),
        ("org/derived-b", "org/base-math"),
    ]
    assert "3 shown of 3" in response.text


async def test_queue_sorts_by_confidence_and_by_downloads(client: httpx.AsyncClient) -> None:
    by_confidence = queue_order((await client.get("/queue", params={"sort": "confidence"})).text)
    assert [pair[0] for pair in by_confidence] == ["org/derived-b", "org/derived-a", "org/derived-a"]
    assert by_confidence[1][1] == "org/base-math"
    by_downloads = queue_order((await client.get("/queue", params={"sort": "downloads"})).text)
    assert by_downloads[0] == ("org/derived-b", "org/base-math")


async def test_queue_filters_by_domain_relationship_and_extractor(client: httpx.AsyncClient) -> None:
    code = queue_order((await client.get("/queue", params={"domain": "Code"})).text)
    assert code == [("org/derived-b", "org/base-math")]
    synthetic = await client.get("/queue", params={"relationship": "Synthetic Generation"})
    assert queue_order(synthetic.text) == [("org/derived-a", "org/other-src")]
    rules = queue_order((await client.get("/queue", params={"extractor": "rules"})).text)
    assert rules == [("org/derived-a", "org/base-math")]
    nothing = await client.get("/queue", params={"domain": "Science"})
    assert queue_order(nothing.text) == []
    assert 'id="queue-empty"' in nothing.text


async def test_edge_page_shows_links_confidence_evidence_siblings_and_picture(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/edge", params=A_BASE)
    assert response.status_code == 200
    html = response.text
    assert 'href="https://huggingface.co/datasets/org/derived-a"' in html
    assert 'href="https://huggingface.co/datasets/org/base-math"' in html
    assert "Semantic Evolution" in html
    assert (
        "0.40" in html and "support 0.50" in html and "credibility 0.60" in html and "agreement 0.30" in html
    )
    # The evidence is found inside the target's card even though it was re-wrapped and re-cased there.
    assert "<mark>Built from\norg/base-math</mark>" in html
    assert "This set was" in html
    assert 'id="evidence-url"' in html
    siblings = html[html.index('id="siblings"') :]
    assert "org/other-src" in siblings and "Synthetic Generation" in siblings
    assert "<svg" in html and "org/grandchild" in html  # the child appears in the local picture
    assert 'id="approve-form"' not in html  # not signed in: no decision forms


async def test_evidence_with_script_is_escaped_everywhere(client: httpx.AsyncClient) -> None:
    html = (await client.get("/edge", params=B_BASE)).text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "<mark>distilled from org/base-math &lt;script&gt;" in html
    # A javascript: evidence URL is never made a link.
    assert 'href="javascript:' not in html
    api = (await client.get("/api/edge", params=B_BASE)).json()
    assert api["edge"]["evidence"].count("<script>") == 1  # JSON carries the raw text; it is never HTML


async def test_off_hub_sources_get_no_hub_link(client: httpx.AsyncClient) -> None:
    html = (await client.get("/edge", params={"target": "org/derived-b", "source": "ext:aops-wiki"})).text
    assert "ext:aops-wiki" in html
    assert "datasets/ext:aops-wiki" not in html


async def test_lineage_svg_is_well_formed_and_marks_the_edge(client: httpx.AsyncClient) -> None:
    response = await client.get("/edge/lineage.svg", params=A_BASE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    ns = "{http://www.w3.org/2000/svg}"
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert {"org/derived-a", "org/base-math", "org/other-src", "org/grandchild"} <= set(labels)
    current = [line for line in root.iter(f"{ns}line") if line.get("stroke-width") == "4"]
    assert len(current) == 1


async def test_static_assets_and_security_headers(client: httpx.AsyncClient) -> None:
    js = await client.get("/static/review.js")
    css = await client.get("/static/review.css")
    assert js.status_code == 200 and "keydown" in js.text
    assert css.status_code == 200 and "mark" in css.text
    page = await client.get("/queue")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    head = page.text.split("</head>")[0]
    assets = re.findall(r'(?:src|href)="([^"]+)"', head)
    assert assets and all(url.startswith("/static/") for url in assets)  # no CDN: every asset is served here


async def test_unknown_edge_is_404(client: httpx.AsyncClient) -> None:
    page = await client.get("/edge", params={"target": "org/nope", "source": "org/base-math"})
    assert page.status_code == 404
    assert "no edge org/nope" in page.text
    api = await client.get("/api/edge", params={"target": "org/nope", "source": "org/base-math"})
    assert api.status_code == 404 and api.json()["error"] == "UnknownEdgeError"
    svg = await client.get("/edge/lineage.svg", params={"target": "org/nope", "source": "org/base-math"})
    assert svg.status_code == 404


# --- signing in ------------------------------------------------------------------------------------------------
async def test_login_with_a_wrong_token_fails_and_with_a_good_one_succeeds(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    bad = await client.post(
        "/login", data={"csrf": csrf_of(page.text), "token": "nope-nope", "next": "/queue"}
    )
    assert bad.status_code == 303 and "failed=1" in bad.headers["location"]
    await sign_in(client, ALICE)
    html = (await client.get("/edge", params=A_BASE)).text
    assert "signed in as <strong>alice</strong>" in html
    assert 'id="approve-form"' in html


async def test_login_form_needs_its_csrf_token(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"csrf": "forged", "token": ALICE})
    assert response.status_code == 403


async def test_login_never_redirects_off_site(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    response = await client.post(
        "/login", data={"csrf": csrf_of(page.text), "token": ALICE, "next": "//evil.example/x"}
    )
    assert response.headers["location"] == "/queue"


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, ALICE)
    assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
    html = (await client.get("/queue")).text
    assert "Sign in to decide" in html


# --- deciding through forms ------------------------------------------------------------------------------------
def form(edge: dict[str, str], csrf: str, action: str, version: int = 0, **extra: str) -> dict[str, str]:
    return {"csrf": csrf, "action": action, "expected_version": str(version), "pos": "0", **edge, **extra}


async def test_decision_without_a_token_is_401(client: httpx.AsyncClient, store: GraphStore) -> None:
    page = await client.get("/login")  # a valid CSRF token of this (signed-out) session
    response = await client.post("/decide", data=form(A_BASE, csrf_of(page.text), "approve"))
    assert response.status_code == 401
    assert store.get_edge(**A_BASE).status == EdgeStatus.FLAGGED  # type: ignore[union-attr]


async def test_decision_with_a_wrong_csrf_token_is_403(client: httpx.AsyncClient, store: GraphStore) -> None:
    await sign_in(client, ALICE)
    response = await client.post("/decide", data=form(A_BASE, "not-the-token", "approve"))
    assert response.status_code == 403
    missing = await client.post(
        "/decide", data={k: v for k, v in form(A_BASE, "", "approve").items() if k != "csrf"}
    )
    assert missing.status_code == 403
    assert store.get_edge(**A_BASE).status == EdgeStatus.FLAGGED  # type: ignore[union-attr]
    assert store.audit_log() == []


async def test_csrf_token_of_another_session_is_refused(app: FastAPI, store: GraphStore) -> None:
    async with new_client(app) as alice, new_client(app) as bob:
        alice_csrf = await sign_in(alice, ALICE)
        await sign_in(bob, BOB)
        response = await bob.post("/decide", data=form(A_BASE, alice_csrf, "approve"))
        assert response.status_code == 403
    assert store.audit_log() == []


async def test_approve_moves_to_the_next_edge_and_is_audited(
    client: httpx.AsyncClient, store: GraphStore
) -> None:
    csrf = await sign_in(client, ALICE)
    response = await client.post("/decide", data=form(A_BASE, csrf, "approve"))
    assert response.status_code == 303
    location = response.headers["location"]
    assert "source=org%2Fother-src" in location and "done=approve" in location
    edge = store.get_edge(**A_BASE)
    assert edge is not None and edge.status == EdgeStatus.APPROVED and edge.version == 1
    [entry] = store.audit_log()
    assert (entry.reviewer, entry.action, entry.previous["status"]) == ("alice", "approve", "flagged")
    page = await client.get(location)
    assert "Approved." in page.text
    assert "(you: 1)" in page.text


async def test_reject_needs_a_reason(client: httpx.AsyncClient, store: GraphStore) -> None:
    csrf = await sign_in(client, ALICE)
    came_from = "http://review.test/edge?target=org%2Fderived-a&source=org%2Fbase-math"
    empty = await client.post(
        "/decide", data=form(A_BASE, csrf, "reject", reason="  "), headers={"referer": came_from}
    )
    assert empty.status_code == 422 and "needs a reason" in empty.text
    assert 'href="/edge?target=org%2Fderived-a&amp;source=org%2Fbase-math" id="back-link"' in empty.text
    elsewhere = await client.post(
        "/decide", data=form(A_BASE, csrf, "reject"), headers={"referer": "https://evil.example/edge"}
    )
    assert 'id="back-link"' not in elsewhere.text
    ok = await client.post("/decide", data=form(A_BASE, csrf, "reject", reason="the card says otherwise"))
    assert ok.status_code == 303
    edge = store.get_edge(**A_BASE)
    assert edge is not None and edge.status == EdgeStatus.REJECTED
    assert store.audit_log()[-1].reason == "the card says otherwise"


async def test_edit_changes_relationship_and_note(client: httpx.AsyncClient, store: GraphStore) -> None:
    csrf = await sign_in(client, BOB)
    data = form(
        B_BASE, csrf, "edit", relationship="Direct Inclusion/Subset", note="subset of the train split"
    )
    assert (await client.post("/decide", data=data)).status_code == 303
    edge = store.get_edge(**B_BASE)
    assert edge is not None
    assert (edge.status, edge.relationship, edge.note) == (
        EdgeStatus.EDITED,
        Relationship.DIRECT_INCLUSION,
        "subset of the train split",
    )
    bad = await client.post("/decide", data=form(A_BASE, csrf, "edit", relationship="Teleportation"))
    assert bad.status_code == 422 and "unknown relationship" in bad.text


async def test_repoint_to_a_stored_id(client: httpx.AsyncClient, store: GraphStore) -> None:
    csrf = await sign_in(client, ALICE)
    data = form(B_BASE, csrf, "repoint", new_source="org/unrelated", reason="wrong parent")
    assert (await client.post("/decide", data=data)).status_code == 303
    assert store.get_edge(**B_BASE).status == EdgeStatus.REJECTED  # type: ignore[union-attr]
    moved = store.get_edge("org/derived-b", "org/unrelated")
    assert moved is not None and moved.status == EdgeStatus.EDITED and moved.evidence == SCRIPT_EVIDENCE


async def test_repoint_to_an_id_only_the_catalog_knows(client: httpx.AsyncClient, store: GraphStore) -> None:
    csrf = await sign_in(client, ALICE)
    data = form(A_OTHER, csrf, "repoint", new_source="catalog/only-here")
    assert (await client.post("/decide", data=data)).status_code == 303
    assert store.get_edge("org/derived-a", "catalog/only-here") is not None


async def test_repoint_to_a_missing_or_malformed_id_is_refused(
    client: httpx.AsyncClient, store: GraphStore
) -> None:
    csrf = await sign_in(client, ALICE)
    missing = await client.post(
        "/decide", data=form(A_BASE, csrf, "repoint", new_source="org/does-not-exist")
    )
    assert missing.status_code == 422
    assert "org/does-not-exist is neither in the store nor in the catalog" in missing.text
    malformed = await client.post("/decide", data=form(A_BASE, csrf, "repoint", new_source="not an id"))
    assert malformed.status_code == 422 and "invalid node id" in malformed.text
    itself = await client.post("/decide", data=form(A_BASE, csrf, "repoint", new_source="org/derived-a"))
    assert itself.status_code == 422
    assert store.get_edge(**A_BASE).status == EdgeStatus.FLAGGED  # type: ignore[union-attr]
    assert store.get_edge("org/derived-a", "org/does-not-exist") is None
    assert store.audit_log() == []


async def test_decision_on_an_unknown_edge_is_404(client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, ALICE)
    response = await client.post(
        "/decide", data=form({"target": "org/x", "source": "org/y"}, csrf, "approve")
    )
    assert response.status_code == 404


async def test_two_reviewers_on_the_same_edge_conflict(app: FastAPI, store: GraphStore) -> None:
    async with new_client(app) as alice, new_client(app) as bob:
        alice_csrf = await sign_in(alice, ALICE)
        bob_csrf = await sign_in(bob, BOB)
        seen_by_alice = (await alice.get("/edge", params=A_BASE)).text
        seen_by_bob = (await bob.get("/edge", params=A_BASE)).text
        assert 'name="expected_version" value="0"' in seen_by_alice and seen_by_bob
        first = await alice.post("/decide", data=form(A_BASE, alice_csrf, "approve", version=0))
        second = await bob.post("/decide", data=form(A_BASE, bob_csrf, "reject", version=0, reason="no"))
        assert first.status_code == 303
        assert second.status_code == 409
        assert "someone else decided" in second.text.lower()
    edge = store.get_edge(**A_BASE)
    assert edge is not None and edge.status == EdgeStatus.APPROVED
    assert [e.reviewer for e in store.audit_log()] == ["alice"]


async def test_undo_restores_the_last_decision(client: httpx.AsyncClient, store: GraphStore) -> None:
    csrf = await sign_in(client, ALICE)
    await client.post("/decide", data=form(A_BASE, csrf, "approve"))
    await client.post("/decide", data=form(B_BASE, csrf, "reject", reason="teacher, not data"))
    undo = await client.post("/undo", data={"csrf": csrf})
    assert undo.status_code == 303
    assert "target=org%2Fderived-b" in undo.headers["location"] and "done=undo" in undo.headers["location"]
    assert store.get_edge(**B_BASE).status == EdgeStatus.FLAGGED  # type: ignore[union-attr]
    assert store.get_edge(**A_BASE).status == EdgeStatus.APPROVED  # type: ignore[union-attr]
    await client.post("/undo", data={"csrf": csrf})
    assert store.get_edge(**A_BASE).status == EdgeStatus.FLAGGED  # type: ignore[union-attr]
    nothing = await client.post("/undo", data={"csrf": csrf})
    assert nothing.status_code == 422 and "nothing to undo" in nothing.text
    assert [e.action for e in store.audit_log()] == ["approve", "reject", "undo", "undo"]


async def test_undo_of_a_repoint_removes_the_new_edge(client: httpx.AsyncClient, store: GraphStore) -> None:
    csrf = await sign_in(client, ALICE)
    await client.post("/decide", data=form(A_BASE, csrf, "repoint", new_source="org/unrelated"))
    assert store.get_edge("org/derived-a", "org/unrelated") is not None
    await client.post("/undo", data={"csrf": csrf})
    assert store.get_edge("org/derived-a", "org/unrelated") is None
    assert store.get_edge(**A_BASE).status == EdgeStatus.FLAGGED  # type: ignore[union-attr]


async def test_undo_needs_a_token_and_csrf(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert (await client.post("/undo", data={"csrf": csrf_of(page.text)})).status_code == 401
    await sign_in(client, ALICE)
    assert (await client.post("/undo", data={"csrf": "x"})).status_code == 403


async def test_skip_goes_to_the_next_position(client: httpx.AsyncClient, store: GraphStore) -> None:
    response = await client.get("/next", params={"pos": 1})
    assert response.status_code == 303
    assert (
        "source=org%2Fother-src" in response.headers["location"] and "pos=1" in response.headers["location"]
    )
    wrap = await client.get("/next", params={"pos": 3})
    assert "source=org%2Fbase-math" in wrap.headers["location"] and "pos=0" in wrap.headers["location"]
    assert store.audit_log() == []


@pytest.mark.parametrize(
    ("action", "extra", "status"),
    [
        ("approve", {}, EdgeStatus.APPROVED),
        ("reject", {"reason": "wrong"}, EdgeStatus.REJECTED),
        ("edit", {"relationship": "CoT Distillation"}, EdgeStatus.EDITED),
    ],
)
async def test_a_retrace_never_overwrites_a_decision(
    client: httpx.AsyncClient, store: GraphStore, action: str, extra: dict[str, str], status: EdgeStatus
) -> None:
    csrf = await sign_in(client, ALICE)
    assert (await client.post("/decide", data=form(A_BASE, csrf, action, **extra))).status_code == 303
    decided = store.get_edge(**A_BASE)
    report = store.upsert_edges(
        [Edge(**A_BASE, relationship="subset", confidence=0.2, status=EdgeStatus.FLAGGED, evidence="x")]
    )
    assert report.protected == 1
    edge = store.get_edge(**A_BASE)
    assert edge is not None and edge.status == status
    assert edge == decided


# --- reads behind a token -------------------------------------------------------------------------------------
async def test_closed_reads_need_a_token(store: GraphStore) -> None:
    app = make_app(store, open_reads=False)
    async with new_client(app) as http:
        page = await http.get("/queue")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert (await http.get("/edge", params=A_BASE)).status_code == 303
        assert (await http.get("/edge/lineage.svg", params=A_BASE)).status_code == 401
        assert (await http.get("/api/edges")).status_code == 401
        assert (await http.get("/api/progress")).status_code == 401
        authed = await http.get("/api/edges", headers={"Authorization": f"Bearer {BOB}"})
        assert authed.status_code == 200 and authed.json()["total"] == 3
        await sign_in(http, ALICE)
        assert (await http.get("/queue")).status_code == 200


# --- the JSON API ----------------------------------------------------------------------------------------------
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_api_lists_flagged_edges_with_queue_fields(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/edges", params={"status": "flagged"})).json()
    assert body["total"] == 3
    first = body["edges"][0]
    assert (first["target"], first["source"], first["downstream"]) == ("org/derived-a", "org/base-math", 2)
    limited = (await client.get("/api/edges", params={"status": "flagged", "limit": 1, "offset": 2})).json()
    assert [e["target"] for e in limited["edges"]] == ["org/derived-b"]
    auto = (await client.get("/api/edges", params={"status": "auto"})).json()
    assert auto["total"] == 3 and {e["status"] for e in auto["edges"]} == {"auto"}
    bad = await client.get("/api/edges", params={"status": "maybe"})
    assert bad.status_code == 422 and "unknown status" in bad.json()["detail"]


async def test_api_decision_needs_a_valid_bearer_token(client: httpx.AsyncClient, store: GraphStore) -> None:
    body = {"action": "approve", **A_BASE, "expected_version": 0}
    none = await client.post("/api/decisions", json=body)
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    wrong = await client.post("/api/decisions", json=body, headers=bearer("tok-mallory-9"))
    assert wrong.status_code == 401
    # A signed-in browser session is not enough for the API: it needs the bearer token (no CSRF surface).
    await sign_in(client, ALICE)
    assert (await client.post("/api/decisions", json=body)).status_code == 401
    assert store.audit_log() == []


async def test_api_decisions_and_their_errors(client: httpx.AsyncClient, store: GraphStore) -> None:
    ok = await client.post(
        "/api/decisions", json={"action": "approve", **A_BASE, "expected_version": 0}, headers=bearer(ALICE)
    )
    assert ok.status_code == 200
    assert ok.json()["edge"]["status"] == "approved" and ok.json()["entry"]["reviewer"] == "alice"
    conflict = await client.post(
        "/api/decisions",
        json={"action": "reject", "reason": "x", **A_BASE, "expected_version": 0},
        headers=bearer(BOB),
    )
    assert conflict.status_code == 409 and conflict.json()["error"] == "ConflictError"
    unknown = await client.post(
        "/api/decisions",
        json={"action": "approve", "target": "org/x", "source": "org/y"},
        headers=bearer(BOB),
    )
    assert unknown.status_code == 404
    missing = await client.post(
        "/api/decisions", json={"action": "repoint", **B_BASE, "new_source": "org/ghost"}, headers=bearer(BOB)
    )
    assert missing.status_code == 422 and "org/ghost" in missing.json()["detail"]
    bad_action = await client.post("/api/decisions", json={"action": "delete", **B_BASE}, headers=bearer(BOB))
    assert bad_action.status_code == 422
    malformed = await client.post("/api/decisions", json={"target": 3}, headers=bearer(BOB))
    assert malformed.status_code == 422
    undo = await client.post("/api/decisions", json={"action": "undo"}, headers=bearer(ALICE))
    assert undo.status_code == 200 and undo.json()["edge"]["status"] == "flagged"
    assert [(e.reviewer, e.action) for e in store.audit_log()] == [("alice", "approve"), ("alice", "undo")]


async def test_api_edge_progress_audit_and_me(client: httpx.AsyncClient) -> None:
    detail = (await client.get("/api/edge", params=A_BASE)).json()
    assert detail["evidence"]["found_in_context"] is True
    assert [o["source"] for o in detail["others"]] == ["org/other-src"]
    await client.post("/api/decisions", json={"action": "approve", **A_BASE}, headers=bearer(ALICE))
    await client.post(
        "/api/decisions", json={"action": "reject", "reason": "no", **B_BASE}, headers=bearer(BOB)
    )
    progress = (await client.get("/api/progress", headers=bearer(ALICE))).json()
    assert progress == {"flagged": 1, "decided_today": 2, "mine_today": 1}
    audit = (await client.get("/api/audit")).json()
    assert [(e["reviewer"], e["action"]) for e in audit] == [("alice", "approve"), ("bob", "reject")]
    assert audit[1]["previous"]["status"] == "flagged"
    assert (await client.get("/api/me", headers=bearer(BOB))).json()["reviewer"] == "bob"
    assert (await client.get("/api/me")).json()["reviewer"] is None


async def test_api_decision_without_a_version_never_overwrites_a_human_one(
    client: httpx.AsyncClient, store: GraphStore
) -> None:
    first = await client.post("/api/decisions", json={"action": "approve", **A_BASE}, headers=bearer(ALICE))
    assert first.status_code == 200
    second = await client.post(
        "/api/decisions", json={"action": "reject", "reason": "no", **A_BASE}, headers=bearer(BOB)
    )
    assert second.status_code == 409 and "expected_version=1" in second.json()["detail"]
    deliberate = await client.post(
        "/api/decisions",
        json={"action": "reject", "reason": "no", "expected_version": 1, **A_BASE},
        headers=bearer(BOB),
    )
    assert deliberate.status_code == 200
    assert [(e.reviewer, e.action) for e in store.audit_log()] == [("alice", "approve"), ("bob", "reject")]


async def test_openapi_describes_the_json_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    assert {"/api/edges", "/api/edge", "/api/decisions", "/api/progress", "/api/audit"} <= set(paths)


async def test_a_failing_store_gives_a_clear_500(client: httpx.AsyncClient, store: GraphStore) -> None:
    store.close()
    page = await client.get("/queue")
    assert page.status_code == 500 and "the store is closed" in page.text
    api = await client.post("/api/decisions", json={"action": "approve", **A_BASE}, headers=bearer(ALICE))
    assert api.status_code == 500 and api.json() == {"error": "StoreError", "detail": "the store is closed"}
