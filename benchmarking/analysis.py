"""Analyses of benchmark results (paper §4): domain averages, deltas, data efficiency, rankings, and Spearman
correlations across base models (Table 1) and between scorer profiles and performance (Fig. 13).

Definitions (where the paper is silent, the choice is written here):

- A dataset's *domain score* is the mean of its benchmark scores in that domain (domains from the suite, Table 4);
  *Overall* is the mean of its domain scores (as ODA's leaderboard averages them).
- *Delta* is the mean over the domain's benchmarks of (score - base model's score on that benchmark).
- *Data efficiency* (Eq. 1) is delta divided by the dataset size in thousands of samples: points gained per 1k
  samples (the unit ODA's published ``*_efficiency`` fields use).
- *Rank* 1 is the best domain score among a model's datasets (ties share the lower rank).
- Cross-model Spearman uses the datasets both models were evaluated on.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from benchmarking.presets import SuitePreset
from graph_store.models import BenchResult, ScoreProfile

OVERALL = "Overall"
MIN_POINTS = 5


def _mean(values: Iterable[float]) -> float | None:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return sum(vals) / len(vals) if vals else None


def data_efficiency(delta: float | None, size: int | None) -> float | None:
    """Paper Eq. 1: gain over the base model per 1,000 samples (None when either part is unknown)."""
    if delta is None or not size or size <= 0:
        return None
    return delta / (size / 1000.0)


@dataclass
class DatasetSummary:
    dataset: str
    name: str
    size: int | None
    scores: dict[str, float]
    delta: dict[str, float]
    efficiency: dict[str, float]


def _spearman(x: list[float], y: list[float]) -> dict[str, Any]:
    from scipy.stats import spearmanr

    if len(x) < 3:
        return {"rho": None, "p": None, "n": len(x)}
    res = spearmanr(x, y)
    rho = float(res.statistic)
    pval = float(res.pvalue)
    return {
        "rho": None if math.isnan(rho) else round(rho, 4),
        "p": None if math.isnan(pval) else float(f"{pval:.4g}"),
        "n": len(x),
    }


class Analysis:
    """All analyses over one set of results; ``to_dict()`` is what ``oda bench analyze --json`` prints."""

    def __init__(
        self,
        results: Iterable[BenchResult],
        suite: SuitePreset,
        *,
        base_scores: Mapping[str, Mapping[str, float]] | None = None,
        sizes: Mapping[str, int] | None = None,
        names: Mapping[str, str] | None = None,
        profiles: Iterable[ScoreProfile] = (),
    ) -> None:
        self.suite = suite
        self.sizes = dict(sizes or {})
        self.names = dict(names or {})
        self.base_scores = {m: dict(s) for m, s in (base_scores or {}).items()}
        self.profiles = list(profiles)
        self.domains = [*suite.domains, OVERALL]
        # rows[model][dataset] = list of (domain, score, delta)
        self._rows: dict[str, dict[str, list[tuple[str, float, float | None]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for r in results:
            spec = suite.lookup(r.benchmark)
            domain = spec.domain if spec else (r.domain or "Other")
            delta = r.delta
            if delta is None:
                base = self.base_scores.get(r.base_model, {}).get(r.benchmark)
                delta = None if base is None else r.score - base
            self._rows[r.base_model][r.dataset].append((domain, r.score, delta))
        self.models = sorted(self._rows)
        self.per_dataset = {m: self._summaries(m) for m in self.models}

    def _summaries(self, model: str) -> dict[str, DatasetSummary]:
        out: dict[str, DatasetSummary] = {}
        for ds, rows in self._rows[model].items():
            by_domain: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
            for domain, score, delta in rows:
                by_domain[domain].append((score, delta))
            scores: dict[str, float] = {}
            deltas: dict[str, float] = {}
            for domain, vals in by_domain.items():
                s = _mean(v[0] for v in vals)
                if s is not None:
                    scores[domain] = s
                if all(v[1] is not None for v in vals):
                    d = _mean(v[1] for v in vals if v[1] is not None)
                    if d is not None:
                        deltas[domain] = d
            domain_keys = [d for d in scores if d != OVERALL]
            overall = _mean(scores[d] for d in domain_keys)
            if overall is not None:
                scores[OVERALL] = overall
            if domain_keys and all(d in deltas for d in domain_keys):
                overall_delta = _mean(deltas[d] for d in domain_keys)
                if overall_delta is not None:
                    deltas[OVERALL] = overall_delta
            size = self.sizes.get(ds)
            eff = {d: e for d, v in deltas.items() if (e := data_efficiency(v, size)) is not None}
            out[ds] = DatasetSummary(ds, self.names.get(ds, ds), size, scores, deltas, eff)
        return out

    def base_domain_scores(self) -> dict[str, dict[str, float]]:
        """The base models' own domain averages."""
        out: dict[str, dict[str, float]] = {}
        for model, scores in self.base_scores.items():
            by_domain: dict[str, list[float]] = defaultdict(list)
            for bench, score in scores.items():
                spec = self.suite.lookup(bench)
                by_domain[spec.domain if spec else "Other"].append(score)
            dom = {d: v for d, vals in by_domain.items() if (v := _mean(vals)) is not None}
            overall = _mean(dom.values())
            if overall is not None:
                dom[OVERALL] = overall
            out[model] = dom
        return out

    def rankings(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Per model and domain: datasets ordered best first, with ranks (ties share the lower rank)."""
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for model, summaries in self.per_dataset.items():
            out[model] = {}
            for domain in self.domains:
                items = sorted(
                    ((s.dataset, s.scores[domain]) for s in summaries.values() if domain in s.scores),
                    key=lambda t: (-t[1], t[0]),
                )
                ranked, rank, prev = [], 0, None
                for i, (ds, score) in enumerate(items, start=1):
                    if score != prev:
                        rank, prev = i, score
                    ranked.append({"dataset": ds, "rank": rank, "score": round(score, 4)})
                if ranked:
                    out[model][domain] = ranked
        return out

    def cross_model_spearman(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Table 1: Spearman correlation of dataset domain scores between each pair of base models."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for i, m1 in enumerate(self.models):
            for m2 in self.models[i + 1 :]:
                pair: dict[str, dict[str, Any]] = {}
                for domain in self.domains:
                    common = sorted(
                        ds
                        for ds, s in self.per_dataset[m1].items()
                        if domain in s.scores and domain in self.per_dataset[m2].get(ds, _EMPTY).scores
                    )
                    x = [self.per_dataset[m1][ds].scores[domain] for ds in common]
                    y = [self.per_dataset[m2][ds].scores[domain] for ds in common]
                    pair[domain] = _spearman(x, y)
                out[f"{m1} vs {m2}"] = pair
        return out

    def top_efficiency(self, k: int = 5, domain: str = OVERALL) -> dict[str, list[dict[str, Any]]]:
        """The ``k`` most data-efficient datasets per model in ``domain``."""
        out: dict[str, list[dict[str, Any]]] = {}
        for model, summaries in self.per_dataset.items():
            items = sorted(
                (s for s in summaries.values() if domain in s.efficiency),
                key=lambda s: (-s.efficiency[domain], s.dataset),
            )[:k]
            out[model] = [
                {
                    "dataset": s.dataset,
                    "name": s.name,
                    "efficiency": round(s.efficiency[domain], 6),
                    "delta": round(s.delta[domain], 4),
                    "score": round(s.scores[domain], 4),
                    "size": s.size,
                }
                for s in items
            ]
        return out

    def scorer_correlation(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Fig. 13: per model, the Spearman correlation between each scorer's dataset means and the domain scores
        (only scorers with at least ``MIN_POINTS`` datasets in common)."""
        means: dict[str, dict[str, float]] = defaultdict(dict)
        for p in self.profiles:
            if p.mean is not None:
                means[f"{p.axis}_{p.scorer}"][p.dataset] = p.mean
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for model, summaries in self.per_dataset.items():
            table: dict[str, dict[str, Any]] = {}
            for scorer, by_ds in sorted(means.items()):
                row: dict[str, Any] = {}
                for domain in self.domains:
                    common = sorted(ds for ds in by_ds if ds in summaries and domain in summaries[ds].scores)
                    if len(common) < MIN_POINTS:
                        continue
                    res = _spearman([by_ds[d] for d in common], [summaries[d].scores[domain] for d in common])
                    row[domain] = res
                if row:
                    table[scorer] = row
            if table:
                out[model] = table
        return out

    def to_dict(self, *, top_k: int = 5) -> dict[str, Any]:
        return {
            "models": self.models,
            "domains": self.domains,
            "n_datasets": {m: len(s) for m, s in self.per_dataset.items()},
            "base": self.base_domain_scores(),
            "per_dataset": {
                m: {
                    ds: {
                        "name": s.name,
                        "size": s.size,
                        "scores": {k: round(v, 4) for k, v in s.scores.items()},
                        "delta": {k: round(v, 4) for k, v in s.delta.items()},
                        "efficiency": {k: round(v, 6) for k, v in s.efficiency.items()},
                    }
                    for ds, s in sorted(summaries.items())
                }
                for m, summaries in self.per_dataset.items()
            },
            "rankings": self.rankings(),
            "spearman_cross_model": self.cross_model_spearman(),
            "top_efficiency": self.top_efficiency(top_k),
            "scorer_correlation": self.scorer_correlation(),
        }


_EMPTY = DatasetSummary("", "", None, {}, {}, {})
