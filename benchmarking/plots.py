"""PNG plots of an ``Analysis`` (matplotlib, Agg backend): score distributions, efficiency vs performance (log x,
positive efficiency only, as in the paper's Fig. 11) and the scorer/performance correlation heatmap (Fig. 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarking.analysis import OVERALL, Analysis


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return (n + cols - 1) // cols, cols


def plot_score_distributions(analysis: Analysis, path: Path) -> Path:
    """One panel per domain: histogram of dataset domain scores per base model; dashed lines mark the base model."""
    plt = _plt()
    rows, cols = _grid(len(analysis.domains))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    base = analysis.base_domain_scores()
    for ax, domain in zip(axes.flat, analysis.domains, strict=False):
        for i, model in enumerate(analysis.models):
            vals = [s.scores[domain] for s in analysis.per_dataset[model].values() if domain in s.scores]
            if vals:
                ax.hist(vals, bins=20, alpha=0.55, label=model, color=f"C{i}")
            if domain in base.get(model, {}):
                ax.axvline(base[model][domain], color=f"C{i}", linestyle="--", linewidth=1)
        ax.set_title(domain)
        ax.set_xlabel("score")
        ax.set_ylabel("datasets")
    return _finish_panels(
        plt, fig, axes, len(analysis.domains), "Dataset score distributions (dashed: base model)", path
    )


def _finish_panels(plt: Any, fig: Any, axes: Any, used: int, title: str, path: Path) -> Path:
    """Hide the grid's unused panels, add the legend and the title, and save the figure to ``path``."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_efficiency(analysis: Analysis, path: Path) -> Path:
    """One panel per domain: domain score against data efficiency (log x; datasets with positive efficiency)."""
    plt = _plt()
    rows, cols = _grid(len(analysis.domains))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, domain in zip(axes.flat, analysis.domains, strict=False):
        for i, model in enumerate(analysis.models):
            pts = [
                (s.efficiency[domain], s.scores[domain])
                for s in analysis.per_dataset[model].values()
                if s.efficiency.get(domain, 0) > 0 and domain in s.scores
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.scatter(xs, ys, s=14, alpha=0.7, label=model, color=f"C{i}")
        ax.set_xscale("log")
        ax.set_title(domain)
        ax.set_xlabel("data efficiency (gain per 1k samples, log)")
        ax.set_ylabel("score")
    return _finish_panels(plt, fig, axes, len(analysis.domains), "Efficiency vs performance", path)


def plot_correlation_heatmap(analysis: Analysis, path: Path) -> Path | None:
    """Scorers x domains heatmap of Spearman correlations, one panel per base model (None without scores)."""
    table = analysis.scorer_correlation()
    if not table:
        return None
    plt = _plt()
    models = sorted(table)
    scorers = sorted({s for m in models for s in table[m]})
    domains = analysis.domains
    fig, axes = plt.subplots(
        1,
        len(models),
        figsize=(2.2 + 1.1 * len(domains) * len(models), 0.32 * len(scorers) + 2),
        squeeze=False,
    )
    image = None
    for ax, model in zip(axes.flat, models, strict=True):
        grid = [
            [
                float("nan") if (c := table[model].get(s, {}).get(d, {}).get("rho")) is None else c
                for d in domains
            ]
            for s in scorers
        ]
        image = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(len(domains)), domains, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(scorers)), scorers if ax is axes.flat[0] else [""] * len(scorers), fontsize=7)
        ax.set_title(model, fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=list(axes.flat), shrink=0.6, label="Spearman rho")
    fig.suptitle("Scorer means vs domain performance")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_plots(analysis: Analysis, out_dir: str | Path) -> list[Path]:
    """Write every plot into ``out_dir``; return the files written."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        plot_score_distributions(analysis, folder / "score_distributions.png"),
        plot_efficiency(analysis, folder / "efficiency_vs_performance.png"),
    ]
    heat = plot_correlation_heatmap(analysis, folder / "scorer_correlation_heatmap.png")
    if heat:
        written.append(heat)
    return written


__all__ = ["OVERALL", "write_plots"]
