"""World folders: validation of hand-written files, and the stand-in's answers for broken ones."""

from __future__ import annotations

import json

import httpx
import pytest

from oda.errors import InputError
from standins.hub import serve_hub
from standins.snapshot_builder import build_snapshot
from standins.world import World


def test_not_a_world_folder(tmp_path):
    with pytest.raises(InputError, match="not found"):
        World(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a world folder"):
        World(tmp_path / "empty")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "invalid JSON"), ("[1, 2]", "JSON object"), ('{"downlods": 3}', "unknown key")],
)
def test_bad_info_json_names_the_file(world_dir, content, message):
    (world_dir / "datasets" / "org" / "beta" / "info.json").write_text(content)
    with pytest.raises(InputError, match=message) as caught:
        _ = World(world_dir).datasets
    assert "org/beta/info.json" in str(caught.value)


def test_bad_pages_json(world_dir):
    (world_dir / "pages.json").write_text('{"https://x": "pages/x.html"}')
    with pytest.raises(InputError, match=r"pages\.json"):
        _ = World(world_dir).pages


def test_page_file_outside_the_world_is_refused(world_dir):
    (world_dir / "pages.json").write_text(json.dumps({"https://x.org/": {"file": "../../etc/passwd"}}))
    with pytest.raises(InputError, match="not found in the world"):
        World(world_dir).page("https://x.org/")


def test_paper_without_title(world_dir):
    (world_dir / "arxiv" / "2402.00001.json").write_text('{"id": "2402.00001"}')
    with pytest.raises(InputError, match="title"):
        _ = World(world_dir).papers


def test_stand_in_answers_500_for_a_broken_world_and_keeps_serving(world_dir):
    (world_dir / "datasets" / "org" / "beta" / "info.json").write_text("{broken")
    with serve_hub(world_dir) as server:
        broken = httpx.get(f"{server.base_url}/api/datasets/org/alpha", timeout=5)
        assert broken.status_code == 500 and "invalid JSON" in broken.json()["error"]
        papers = httpx.get(f"{server.base_url}/arxiv/api/query", params={"id_list": "2401.01234"}, timeout=5)
        assert papers.status_code == 200 and b"2401.01234" in papers.content


def test_build_snapshot_of_a_broken_world_fails_clearly(world_dir, tmp_path):
    (world_dir / "datasets" / "org" / "beta" / "info.json").write_text('{"downlods": 3}')
    with pytest.raises(InputError, match="unknown key"):
        build_snapshot(world_dir, tmp_path / "snap")


def test_stand_in_reads_the_world_before_its_first_request(world_dir):
    """The first requests arrive together, each on a thread of its own: the world is read once, at start."""
    with serve_hub(world_dir) as server:
        read = vars(server.backend.world)
        assert "datasets" in read and "papers" in read
        info = httpx.get(f"{server.base_url}/api/datasets/org/alpha", timeout=5)
        assert info.status_code == 200 and info.json()["id"] == "org/alpha"
