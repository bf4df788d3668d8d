"""The scorer registry: families, names, collisions and suggestions."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from oda.errors import ConfigError
from scoring.base import Axis, Family, Metric, MetricScores, Scorer, register
from scoring.registry import describe, registry, select
from scoring.samples import Sample


def test_families_expand_to_their_scorers() -> None:
    assert [c.name for c in select("heuristic")] == ["heuristic_profile"]
    assert {c.name for c in select("judge")} == {"judge_q", "judge_qa"}
    assert {c.name for c in select("model")} == {
        "deita_complexity",
        "deita_quality",
        "ifd",
        "thinking_prob",
        "fail_rate",
    }
    assert [c.name for c in select("ifd, heuristic,ifd")] == ["ifd", "heuristic_profile"]


def test_unknown_names_and_empty_selection_fail_clearly() -> None:
    with pytest.raises(ConfigError, match="did you mean 'judge_qa'"):
        select("judge_qaa")
    with pytest.raises(ConfigError, match="no scorers"):
        select(" , ")


def test_every_scorer_declares_family_axes_and_requirements() -> None:
    for cls in registry().values():
        info = describe(cls)
        assert info["family"] in {f.value for f in Family}
        assert info["metrics"] and all(m["axis"] in {"Q", "QA"} for m in info["metrics"])
        assert isinstance(info["requires"], list)


def test_registry_refuses_a_second_scorer_with_the_same_name() -> None:
    class Dummy(Scorer):
        name = "ifd"
        family = Family.HEURISTIC
        metrics = (Metric("x", Axis.Q, "x"),)

        def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
            return [{} for _ in samples]

    with pytest.raises(ValueError, match="already registered"):
        register(Dummy)
    Dummy.name = "model"
    with pytest.raises(ValueError, match="family"):
        register(Dummy)


def test_missing_extra_is_named_in_the_error() -> None:
    class NeedsNothingReal(Scorer):
        name = "needs_missing_module"
        family = Family.MODEL
        requires = ("module_that_does_not_exist_anywhere",)
        metrics = (Metric("x", Axis.Q, "x"),)

        def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
            return []

    with pytest.raises(ConfigError, match=r"oda-lineage\[model\]"):
        NeedsNothingReal.check_requirements()
