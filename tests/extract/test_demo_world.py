"""The demo world (examples/demo/world) exercises what the quickstart promises, through the rules extractor."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace

import pytest

from graph_store.models import EdgeStatus, Relationship
from lineage.aggregate import aggregate
from lineage.canonical import Canonicalizer, resolve_claims
from lineage.extract.rules import RulesExtractor
from lineage.resources import card_chunks

from .conftest import DEMO_WORLD, PROJECT_ROOT


def world_datasets() -> dict[str, tuple[str, dict]]:
    out = {}
    for readme in sorted((DEMO_WORLD / "datasets").glob("*/*/README.md")):
        repo = "/".join(readme.parts[-3:-1])
        info = json.loads((readme.parent / "info.json").read_text())
        out[repo] = (readme.read_text(), info)
    return out


@pytest.fixture(scope="module")
def traced() -> dict:
    """Every card of the world through rules, canonicalization (world repos stand in for Hub search) and
    aggregation, with the world's creation dates."""
    return trace_world(check_existence=False)


def trace_world(*, check_existence: bool) -> dict:
    import asyncio

    datasets = world_datasets()

    async def hub_search(query: str) -> list[str]:
        key = query.lower().replace(" ", "")
        return [repo for repo in datasets if key in repo.lower()]

    async def hub_exists(repo_id: str) -> bool:
        return repo_id in datasets

    async def run() -> dict:
        canon = Canonicalizer(hub_search=hub_search, hub_exists=hub_exists if check_existence else None)
        created = {
            repo: datetime.fromisoformat(info["created_at"].replace("Z", "+00:00"))
            for repo, (_, info) in datasets.items()
        }
        results = {}
        for repo, (raw, _) in datasets.items():
            card = SimpleNamespace(url=f"https://huggingface.co/datasets/{repo}", raw=raw, body=None)
            chunks = card_chunks(repo, card)
            claims = [c for chunk in chunks for c in RulesExtractor().extract_sync(chunk)]
            resolutions = await resolve_claims(canon, claims)
            results[repo] = aggregate(
                repo,
                created[repo],
                claims,
                {c.chunk_id: c for c in chunks},
                resolutions,
                created,
                threshold=0.7,
                run_id="demo",
            )
        return results

    return asyncio.run(run())


def test_queue_names_world_datasets():
    lines = [ln.strip() for ln in (PROJECT_ROOT / "examples/demo/queue.txt").read_text().splitlines()]
    entries = [ln for ln in lines if ln and not ln.startswith("#")]
    assert 3 <= len(entries) <= 5
    datasets = world_datasets()
    assert all(entry.rsplit("datasets/", 1)[-1] in datasets for entry in entries)
    old = [repo for repo, (_, info) in datasets.items() if info["created_at"] < "2020"]
    assert old == ["legacy-nlp/OldQA"] and any("OldQA" in e for e in entries)


def test_every_relationship_type_occurs(traced):
    seen = {e.relationship for result in traced.values() for e in result.edges}
    assert seen == set(Relationship)


def test_benchmark_leaks_three_levels_down(traced):
    def parents(repo: str) -> set[str]:
        return {e.source for e in traced[repo].edges} if repo in traced else set()

    level1 = parents("northwind-ai/Helios-Reasoning-200K")
    level2 = set().union(*(parents(p) for p in level1))
    level3 = set().union(*(parents(p) for p in level2))
    assert "openai/gsm8k" in level3


def test_teacher_models_are_never_nodes_and_informal_names_are_canonicalized(traced):
    node_ids = {n.id for result in traced.values() for n in result.nodes}
    assert not any("deepseek" in n.lower() or "gpt-4o" in n.lower() or "qwq" in n.lower() for n in node_ids)
    teachers = {e.teacher for result in traced.values() for e in result.edges if e.teacher}
    assert "DeepSeek-R1" in teachers
    quill = {e.source for e in traced["quill-labs/QuillInstruct-v2"].edges}
    assert "meta-math/MetaMathQA" in quill  # written "metamath-qa" in the card


def test_ambiguous_claim_is_flagged_and_eval_benchmarks_are_not_edges(traced):
    helios = {e.source: e for e in traced["northwind-ai/Helios-Reasoning-200K"].edges}
    assert helios["allenai/sciq"].status == EdgeStatus.FLAGGED
    assert helios["lumen-lab/LumenMath-CoT"].status == EdgeStatus.AUTO
    assert not {"HuggingFaceH4/MATH-500", "Maxwell-Jia/AIME_2024"} & set(helios)


def test_world_has_a_dead_link_and_papers():
    pages = json.loads((DEMO_WORLD / "pages.json").read_text())
    assert any(entry.get("status") == 404 for entry in pages.values())
    assert len(list((DEMO_WORLD / "arxiv").glob("*.json"))) >= 2


def test_with_the_hub_check_every_hub_node_is_a_world_dataset(traced):
    checked = trace_world(check_existence=True)
    datasets = world_datasets()
    hub_nodes = {n.id for result in checked.values() for n in result.nodes if n.on_hub}
    assert hub_nodes and hub_nodes <= set(datasets), hub_nodes - set(datasets)
    # the check keeps every edge; a catalog dataset the world lacks becomes an off-Hub node of that name
    assert sum(len(r.edges) for r in checked.values()) == sum(len(r.edges) for r in traced.values())
    moved = {n.id for r in checked.values() for n in r.nodes} - {
        n.id for r in traced.values() for n in r.nodes
    }
    assert all(node.startswith("ext:") for node in moved)
