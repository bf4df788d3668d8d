"""A reviewer works through the queue with the keyboard in headless Chromium, against a server on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph_store.base import GraphStore
from graph_store.models import EdgeStatus, Relationship
from review_ui.server import serve_in_thread
from tests.review.conftest import ALICE, make_app, only_in_catalog

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "review"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)"
    ),
]


@pytest.fixture
def base_url(store: GraphStore) -> Iterator[str]:
    with serve_in_thread(make_app(store, catalog_check=only_in_catalog)) as url:
        yield url


def test_keyboard_review_session(base_url: str, store: GraphStore) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

            page.goto(f"{base_url}/login")
            page.fill("input[name=token]", ALICE)
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/queue$"))
            expect(page.locator("#progress")).to_contain_text("3 flagged")
            rows = page.locator("#queue-table tr.row")
            expect(rows).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

            # j/k move the selection; Enter opens it.
            expect(rows.nth(0)).to_have_class(re.compile("selected"))
            page.keyboard.press("j")
            expect(rows.nth(1)).to_have_class(re.compile("selected"))
            page.keyboard.press("k")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/edge\?target=org%2Fderived-a&source=org%2Fbase-math"))
            expect(page.locator("#evidence mark")).to_have_text(re.compile(r"Built from\s+org/base-math"))
            expect(page.locator("svg.lineage")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "edge.png"), full_page=True)

            # s skips to the next edge, q goes back to the queue.
            page.keyboard.press("s")
            page.wait_for_url(re.compile(r"source=org%2Fother-src"))
            page.keyboard.press("q")
            page.wait_for_url(re.compile(r"/queue"))
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"source=org%2Fbase-math"))

            # a approves and moves on to the next flagged edge.
            page.keyboard.press("a")
            page.wait_for_url(re.compile(r"source=org%2Fother-src.*done=approve"))
            expect(page.locator(".flash")).to_have_text("Approved.")

            # r focuses the reason; Enter submits the rejection.
            page.keyboard.press("r")
            expect(page.locator("#reject-reason")).to_be_focused()
            page.keyboard.type("the card names no such source")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"target=org%2Fderived-b.*done=reject"))
            expect(page.locator("#evidence mark")).to_contain_text('<script>alert("pwned")</script>')
            assert dialogs == []  # the evidence's script never ran

            # e focuses the relationship, n the note; Enter saves the edit.
            page.keyboard.press("e")
            expect(page.locator("#edit-relationship")).to_be_focused()
            page.select_option("#edit-relationship", "Direct Inclusion/Subset")
            page.keyboard.press("Escape")
            page.keyboard.press("n")
            page.keyboard.type("subset of the train split")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/queue.*done=edit"))
            expect(page.locator("#queue-empty")).to_be_visible()

            # u undoes the last decision (the edit) and shows that edge again.
            page.keyboard.press("u")
            page.wait_for_url(re.compile(r"target=org%2Fderived-b.*done=undo"))
            expect(page.locator("#status")).to_contain_text("flagged")
            expect(page.locator("#progress")).to_contain_text("1 flagged")
            assert errors == []
        finally:
            browser.close()

    approved = store.get_edge("org/derived-a", "org/base-math")
    rejected = store.get_edge("org/derived-a", "org/other-src")
    undone = store.get_edge("org/derived-b", "org/base-math")
    assert approved is not None and approved.status == EdgeStatus.APPROVED
    assert rejected is not None and rejected.status == EdgeStatus.REJECTED
    assert undone is not None and undone.status == EdgeStatus.FLAGGED
    assert undone.relationship == Relationship.COT_DISTILLATION
    log = store.audit_log()
    assert [(e.action, e.reviewer) for e in log] == [
        ("approve", "alice"),
        ("reject", "alice"),
        ("edit", "alice"),
        ("undo", "alice"),
    ]
    assert log[1].reason == "the card names no such source"
    assert log[2].new.get("relationship") == "Direct Inclusion/Subset"
    assert (ARTIFACTS / "queue.png").stat().st_size > 0 and (ARTIFACTS / "edge.png").stat().st_size > 0
