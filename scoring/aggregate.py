"""Per-dataset aggregation of per-sample scores: mean, quantiles and a histogram per metric.

The result is one ``ScoreProfile`` per (scorer metric, axis), the shape of OpenDataArena's
``processed_score_data.json``: ``histogram`` holds ``edges`` and ``counts`` plus ``range`` (bin labels) and
``distribution`` (percent per bin), as ODA publishes it. A rated metric (a fixed integer ``scale`` such as the
judge's 1–10, or 0/1 flags) gets one bin per integer; a continuous one gets ten equal-width bins between its
minimum and maximum. Values are kept as 8-byte floats, so a million samples cost 8 MB per metric.
"""

from __future__ import annotations

import array
import math

import numpy as np

from graph_store.models import ScoreProfile
from scoring.base import Metric

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
CONTINUOUS_BINS = 10


class MetricAggregate:
    """The running values and error count of one metric."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.values = array.array("d")
        self.n_errors = 0

    def add(self, value: float | None) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            self.n_errors += 1
        else:
            self.values.append(value)

    def add_many(self, values: list[float | None]) -> None:
        kept = [v for v in values if v is not None and v == v]  # v == v drops NaN
        self.n_errors += len(values) - len(kept)
        self.values.extend(kept)

    def add_array(self, values: np.ndarray) -> None:
        """Add a float64 column; NaN counts as an error."""
        kept = values[~np.isnan(values)]
        self.n_errors += int(values.size - kept.size)
        self.values.frombytes(np.ascontiguousarray(kept, dtype=np.float64).tobytes())

    def histogram(self, data: np.ndarray) -> dict[str, list[float] | list[int]]:
        scale = self.metric.scale
        if scale is not None:
            lo, hi = scale
            labels = list(range(lo, hi + 1))
            edges = [x - 0.5 for x in labels] + [hi + 0.5]
        else:
            lo_v, hi_v = float(data.min()), float(data.max())
            if lo_v == hi_v:
                hi_v = lo_v + 1.0
            edges = np.linspace(lo_v, hi_v, CONTINUOUS_BINS + 1).tolist()
            labels = edges[:-1]
        counts, _ = np.histogram(np.clip(data, edges[0], edges[-1]), bins=edges)
        total = int(counts.sum())
        return {
            "edges": [float(e) for e in edges],
            "counts": [int(c) for c in counts],
            "range": [float(x) for x in labels],
            "distribution": [round(100.0 * int(c) / total, 1) if total else 0.0 for c in counts],
        }

    def profile(self, *, dataset: str, scorer: str, family: str, run_id: str | None = None) -> ScoreProfile:
        data = np.frombuffer(self.values, dtype=np.float64) if len(self.values) else np.zeros(0)
        if data.size == 0:
            return ScoreProfile(
                dataset=dataset,
                scorer=scorer,
                axis=self.metric.axis.value,
                family=family,
                mean=None,
                n=0,
                n_errors=self.n_errors,
                run_id=run_id,
            )
        qs = np.quantile(data, QUANTILES)
        return ScoreProfile(
            dataset=dataset,
            scorer=scorer,
            axis=self.metric.axis.value,
            family=family,
            mean=float(data.mean()),
            n=int(data.size),
            n_errors=self.n_errors,
            quantiles={f"p{round(q * 100)}": float(v) for q, v in zip(QUANTILES, qs, strict=True)},
            histogram=self.histogram(data),
            range=[float(data.min()), float(data.max())],
            run_id=run_id,
        )
