"""Canonicalization: explicit id, then catalog, then Hub search, then LLM, then ext: ids; models are not data."""

from __future__ import annotations

import json

import pytest

from catalog import Catalog, ext_name, hf_id_from_text, normalize_name
from lineage.canonical import Canonicalizer
from oda.errors import ConfigError
from oda.llm import LLMConfig
from standins.openai_compat import Reply, serve_openai


def test_catalog_names_and_aliases(catalog):
    assert catalog.lookup("MATH").id == "EleutherAI/hendrycks_math"
    assert catalog.lookup("gsm8k").id == "openai/gsm8k"
    assert catalog.lookup("GSM-8K dataset").id == "openai/gsm8k"
    assert catalog.lookup("Omni-MATH").is_benchmark
    assert catalog.lookup("the MetaMathQA dataset").id == "meta-math/MetaMathQA"
    assert catalog.lookup("GSM8K (train)").id == "openai/gsm8k"
    lcb = catalog.lookup("LiveCodeBench(v5)")
    assert lcb is not None and lcb.is_benchmark
    assert {"livecodebench/code_generation_lite", "PrimeIntellect/LiveCodeBench-v5"} <= catalog.benchmark_ids
    assert catalog.by_hub_id("primeintellect/livecodebench-v5") is lcb


def test_paper_table4_benchmarks_are_in_the_catalog(catalog):
    table4 = [
        "DROP",
        "IFEval",
        "AGIEval",
        "MMLU-Pro",
        "Omni-MATH",
        "OlympiadBenchMath",
        "GSM8K",
        "MATH-500",
        "AIME_2024",
        "AIME_2025",
        "HMMT_Feb_2025",
        "CMIMC_2025",
        "BRUMO_2025",
        "HumanEval",
        "HumanEval+",
        "MBPP",
        "LiveCodeBench(v5)",
        "ARC_c",
        "BBH",
        "KOR-Bench",
        "CaLM",
        "GPQA",
    ]
    missing = [name for name in table4 if (entry := catalog.lookup(name)) is None or not entry.is_benchmark]
    assert missing == []


@pytest.mark.parametrize(
    "name",
    [
        "DeepSeek-R1",
        "QwQ-32B",
        "GPT-4o",
        "gpt-3.5-turbo",
        "Qwen2.5-72B-Instruct",
        "deepseek-ai/DeepSeek-R1",
        "Llama-3.1-8B-Instruct",
        "claude-3-opus",
        "Mistral-7B-Instruct-v0.2",
        "text-davinci-003",
    ],
)
def test_models_are_recognized(catalog, name):
    assert catalog.is_model_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "MetaMathQA",
        "OpenThoughts3-1.2M",
        "Bespoke-Stratos-17k",
        "open-r1/OpenR1-Math-220k",
        "GSM8K",
        "Skywork-OR1-RL-Data",
        "LIMO",
    ],
)
def test_datasets_are_not_models(catalog, name):
    assert not catalog.is_model_name(name)


def test_catalog_rejects_ambiguous_aliases(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "entries:\n- {id: a/one, name: One, aliases: [shared]}\n- {id: b/two, name: Two, aliases: [shared]}\n"
    )
    with pytest.raises(ConfigError, match="shared"):
        Catalog.load(path)


def test_helpers():
    assert normalize_name("The GSM-8K dataset") == "gsm8k"
    assert hf_id_from_text("https://huggingface.co/datasets/openai/gsm8k/tree/main") == "openai/gsm8k"
    assert hf_id_from_text("see github.com/x/y") is None
    assert ext_name("http://www.cnn.com/") == "cnn"
    assert ext_name("https://github.com/doocs/leetcode") == "github.com/doocs/leetcode"


async def test_resolution_order():
    searched: list[str] = []

    async def hub_search(query: str) -> list[str]:
        searched.append(query)
        return {"Zeta Puzzles": ["someone/zeta-puzzles-hard", "zeta-lab/Zeta-Puzzles"]}.get(query, [])

    canon = Canonicalizer(hub_search=hub_search)
    explicit = await canon.resolve("GSM8K", "https://huggingface.co/datasets/someone/gsm8k-copy")
    assert (explicit.id, explicit.method) == ("someone/gsm8k-copy", "hf_id")
    known = await canon.resolve("gsm8k")
    assert (known.id, known.method, known.is_benchmark) == ("openai/gsm8k", "catalog", True)
    found = await canon.resolve("Zeta Puzzles")
    assert (found.id, found.method, found.on_hub) == ("zeta-lab/Zeta-Puzzles", "hub_search", True)
    unknown = await canon.resolve("AoPS wiki pages of 2019")
    assert unknown.method == "ext" and unknown.id.startswith("ext:") and not unknown.on_hub
    assert "gsm8k" not in searched  # the catalog answered first
    assert known.certainty > found.certainty


async def test_failed_hub_search_degrades_to_ext():
    async def broken(query: str) -> list[str]:
        raise RuntimeError("hub down")

    canon = Canonicalizer(hub_search=broken)
    outcome = await canon.resolve_outcome("Zeta Puzzles")
    assert outcome.resolution is not None and outcome.resolution.method == "ext"
    assert len(outcome.problems) == 1 and "hub down" in outcome.problems[0]
    # the plain resolve gives the same answer of the moment, without the problems
    assert (await canon.resolve("Zeta Puzzles")).method == "ext"


async def test_llm_picks_only_among_hub_candidates():
    async def hub_search(query: str) -> list[str]:
        return ["a/zeta-puzzles-archive", "b/zeta-games-2024"]

    replies = [Reply(content=json.dumps({"id": "b/zeta-games-2024"})), Reply(content='{"id": "made/up"}')]
    with serve_openai(replies) as server:
        llm = LLMConfig(base_url=server.base_url, model="m", api_key="k", timeout_s=5, max_retries=0)
        canon = Canonicalizer(hub_search=hub_search, llm=llm)
        chosen = await canon.resolve("Zeta")
        invented = await canon.resolve("Other Zeta")
        await canon.aclose()
    assert (chosen.id, chosen.method) == ("b/zeta-games-2024", "llm")
    assert invented.method == "ext"  # an id outside the candidates is ignored
    assert "a/zeta-puzzles-archive" in server.requests[0]["messages"][0]["content"]


async def test_a_fallback_made_during_a_hub_outage_is_not_memoized():
    outage = {"down": True}
    calls: list[str] = []

    async def hub_search(query: str) -> list[str]:
        calls.append(query)
        if outage["down"]:
            raise RuntimeError("503 from the Hub")
        return ["zeta-lab/Zeta-Puzzles"]

    canon = Canonicalizer(hub_search=hub_search)
    outcome = await canon.resolve_outcome("Zeta Puzzles")
    during = outcome.resolution
    # the answer of the moment goes to review, and the failure comes back with it
    assert during is not None and during.method == "ext" and during.certainty <= 0.5
    assert outcome.problems and "503" in outcome.problems[0]
    again = await canon.resolve("Zeta Puzzles")
    assert again.method == "ext" and len(calls) == 2  # asked again, not served from the memo
    outage["down"] = False
    after = await canon.resolve("Zeta Puzzles")
    assert (after.id, after.on_hub, after.method) == ("zeta-lab/Zeta-Puzzles", True, "hub_search")
    await canon.resolve("Zeta Puzzles")
    assert len(calls) == 3  # a good answer is memoized


async def test_hub_ids_must_exist_on_the_hub():
    from lineage.canonical import UnresolvedName

    existing = {"zeta-lab/zeta-puzzles", "openai/gsm8k"}
    checked: list[str] = []

    async def hub_exists(repo_id: str) -> bool:
        checked.append(repo_id)
        return repo_id.lower() in existing

    async def hub_search(query: str) -> list[str]:
        return ["zeta-lab/Zeta-Puzzles"] if "zeta" in query.lower() else []

    canon = Canonicalizer(hub_search=hub_search, hub_exists=hub_exists)
    real = await canon.resolve("zeta-lab/Zeta-Puzzles", "zeta-lab/Zeta-Puzzles")
    assert (real.id, real.on_hub, real.method) == ("zeta-lab/Zeta-Puzzles", True, "hf_id")
    # an id the Hub does not know is read as a name: an exact Hub match of its repo name ...
    moved = await canon.resolve("old-org/Zeta-Puzzles", "old-org/Zeta-Puzzles")
    assert (moved.id, moved.method) == ("zeta-lab/Zeta-Puzzles", "hub_search")
    # ... or the catalog entry of that name; a path fragment resolves to nothing at all
    named = await canon.resolve("GSM8K", "someone/gsm8k-copy")
    assert named.id == "openai/gsm8k"
    with pytest.raises(UnresolvedName):
        await canon.resolve("data/train-", "data/train-")
    assert "data/train-" in canon.not_on_hub
    # each id is checked once per run
    await canon.resolve("zeta-lab/Zeta-Puzzles", None)
    assert checked.count("zeta-lab/Zeta-Puzzles") == 1


async def test_a_failed_existence_check_keeps_the_id_and_is_reported():
    async def hub_exists(repo_id: str) -> bool:
        raise RuntimeError("timeout")

    canon = Canonicalizer(hub_exists=hub_exists)
    outcome = await canon.resolve_outcome("acme/thing", "acme/thing")
    res = outcome.resolution
    assert res is not None and (res.id, res.on_hub) == ("acme/thing", True) and res.certainty <= 0.5
    assert outcome.problems and "timeout" in outcome.problems[0]


async def test_an_offline_snapshot_without_the_read_is_not_an_outage():
    from oda.errors import SnapshotMissError

    async def hub_search(query: str) -> list[str]:
        raise SnapshotMissError("offline: the snapshot holds no answer")

    async def hub_exists(repo_id: str) -> bool:
        raise SnapshotMissError("offline: the snapshot holds no answer")

    canon = Canonicalizer(hub_search=hub_search, hub_exists=hub_exists)
    name_outcome = await canon.resolve_outcome("Zeta Puzzles")
    repo_outcome = await canon.resolve_outcome("acme/thing", "acme/thing")
    name, repo = name_outcome.resolution, repo_outcome.resolution
    assert name is not None and name.method == "ext" and name.certainty == 0.8
    assert repo is not None and (repo.id, repo.on_hub, repo.certainty) == ("acme/thing", True, 1.0)
    assert name_outcome.problems == repo_outcome.problems == ()
