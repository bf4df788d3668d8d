"""The synthetic Hub world that the tracing tests and the trace bench run on."""

from __future__ import annotations

from pathlib import Path

from standins.synthetic_world import write_world


def test_appendices_lengthen_the_cards_and_leave_the_lineage_as_it_was(tmp_path: Path) -> None:
    plain = write_world(tmp_path / "plain", 7, seed=3)
    appendices = ["# A real card\n\nIt has a table.\n", "## Another\n\n- a list item\n"]
    padded = write_world(tmp_path / "padded", 7, seed=3, appendices=appendices)
    assert padded.ids == plain.ids and padded.parents == plain.parents
    for i, dataset in enumerate(padded.ids):
        card = (padded.root / "datasets" / dataset / "README.md").read_text(encoding="utf-8")
        original = (plain.root / "datasets" / dataset / "README.md").read_text(encoding="utf-8")
        assert card == original + "\n" + appendices[i % 2]
