"""``oda score``: score a dataset with heuristic, model-based and LLM-as-judge scorers; ``oda score list``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from oda.settings import Settings
    from scoring.base import Scorer

SCORE_HELP = """Score a dataset (a .jsonl/.json/.parquet file, a folder of them, or a Hub id) and profile it.

Per-sample scores go to DIR/<scorer>.jsonl keyed by sample id; a rerun into the same DIR resumes. The dataset
profile (mean, quantiles, histogram per metric) goes to DIR/profile.json, and with --attach onto the dataset's
node in the store.

Examples:

  oda score data/train.jsonl --scorers heuristic -o out/train

  oda score org/dataset --scorers heuristic,judge_qa --base-url http://127.0.0.1:8000/v1 --judge-model qwen

  oda score data.jsonl --scorers model --model ./deita-complexity-scorer --attach --dataset org/dataset

  oda score list
"""


def _build(names: list[type[Scorer]], opts: dict[str, Any], settings: Settings) -> list[Scorer]:
    from scoring.base import Family
    from scoring.model_based.backends import load_backend

    judge = settings.scoring.judge
    built: list[Scorer] = []
    shared_backend = None
    for cls in names:
        if cls.family is Family.JUDGE:
            kwargs = {
                "base_url": opts["base_url"] or judge.base_url or settings.llm.base_url,
                "model": opts["judge_model"] or judge.model or settings.llm.model,
                "concurrency": opts["concurrency"],
                "max_retries": opts["max_retries"],
                "timeout_s": opts["timeout"],
            }
            if opts["judge_cache"] or judge.cache:
                kwargs["cache_path"] = opts["judge_cache"] or judge.cache
            built.append(cls(**kwargs))
        elif cls.family is Family.MODEL:
            cls.check_requirements()
            if opts["model"]:
                if shared_backend is None:
                    shared_backend = load_backend(opts["backend"], opts["model"], device=opts["device"])
                built.append(cls(shared_backend))  # type: ignore[call-arg]
            else:
                built.append(cls(configured=settings.scoring.model.for_scorer(cls.name)))  # type: ignore[call-arg]
        elif cls.family is Family.HEURISTIC:
            built.append(cls(word_rule=opts["word_rule"]))  # type: ignore[call-arg]
        else:
            built.append(cls())
    return built


SCORE_DATASET = "dataset"


class _ScoreGroup(TyperGroup):
    """``oda score list`` is a command of its own; any other first argument (a source, an option, ``--help``, or
    none) goes to the scoring command, whose help and usage read as ``oda score``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = [SCORE_DATASET, *args]
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return (None if name == SCORE_DATASET else name), command, rest


class _ScoreDatasetContext(typer.Context):
    @property
    def command_path(self) -> str:
        return super().command_path.rstrip()  # the hidden command's empty name leaves a trailing space


class _ScoreDatasetCommand(TyperCommand):
    context_class = _ScoreDatasetContext


def register(app: typer.Typer) -> None:
    """Add ``oda score`` and ``oda score list`` to the CLI."""
    score_app = typer.Typer(cls=_ScoreGroup, help=SCORE_HELP, rich_markup_mode="rich")
    app.add_typer(score_app, name="score")

    @score_app.command("list", help="List every scorer, its metrics and their axes.")
    def list_scorers(
        as_json: Annotated[bool, typer.Option("--json", help="print the scorers as JSON on stdout")] = False,
    ) -> None:
        _list_scorers(as_json)

    @score_app.command(
        SCORE_DATASET, cls=_ScoreDatasetCommand, help=SCORE_HELP, no_args_is_help=True, hidden=True
    )
    def score(
        ctx: typer.Context,
        source: Annotated[str, typer.Argument(help="file, folder or Hub dataset id")],
        scorers: Annotated[
            str,
            typer.Option("--scorers", "-s", help="heuristic|model|judge or scorer names, comma-separated"),
        ] = "heuristic",
        out_dir: Annotated[str | None, typer.Option("-o", "--out", help="output folder (resumable)")] = None,
        dataset: Annotated[
            str | None,
            typer.Option("--dataset", help="node id the profile belongs to (default: SOURCE if a Hub id)"),
        ] = None,
        split: Annotated[str | None, typer.Option(help="Hub split to read (matched in file names)")] = None,
        limit: Annotated[int | None, typer.Option(help="score at most this many records")] = None,
        restart: Annotated[bool, typer.Option("--restart", help="discard earlier per-sample output")] = False,
        attach: Annotated[
            bool, typer.Option("--attach", help="write the profile onto the dataset's node")
        ] = False,
        store: Annotated[
            str | None, typer.Option("--store", help="store URI (default: config or .oda/graph)")
        ] = None,
        model: Annotated[
            str | None, typer.Option("--model", help="model path or cached id for model scorers")
        ] = None,
        backend: Annotated[str, typer.Option(help="model backend: transformers or vllm")] = "transformers",
        device: Annotated[str, typer.Option(help="torch device for the transformers backend")] = "cpu",
        base_url: Annotated[
            str | None, typer.Option(help="OpenAI-compatible base URL for judge scorers")
        ] = None,
        judge_model: Annotated[str | None, typer.Option(help="model name on the judge server")] = None,
        concurrency: Annotated[int, typer.Option(help="judge requests in flight")] = 64,
        max_retries: Annotated[int, typer.Option(help="judge retries per sample")] = 3,
        timeout: Annotated[float, typer.Option(help="judge request timeout, seconds")] = 60.0,
        judge_cache: Annotated[str | None, typer.Option(help="SQLite cache of judge ratings")] = None,
        max_record_bytes: Annotated[int, typer.Option(help="larger records are reported, not scored")] = 512
        * 1024,
        as_json: Annotated[
            bool, typer.Option("--json", help="print the run report as JSON on stdout")
        ] = False,
        word_rule: Annotated[
            str,
            typer.Option(
                "--word-rule",
                help="words for TTR/MTLD/HD-D: split (on whitespace and punctuation) or oda "
                "(OpenDataArena's: whitespace, punctuation deleted)",
            ),
        ] = "split",
    ) -> None:
        from graph_store.models import is_hf_id
        from oda.command import settings_of
        from oda.errors import InputError
        from oda.output import console, emit_json
        from scoring.registry import select

        settings = settings_of(ctx)
        chosen = select(scorers)
        node_id = dataset or (source if is_hf_id(source) else None)
        if attach and node_id is None:
            raise InputError("--attach needs --dataset ORG/NAME when SOURCE is a local file")
        built = _build(
            chosen,
            {
                "base_url": base_url,
                "judge_model": judge_model,
                "concurrency": concurrency,
                "max_retries": max_retries,
                "timeout": timeout,
                "judge_cache": judge_cache,
                "model": model,
                "backend": backend,
                "device": device,
                "word_rule": _word_rule(word_rule),
            },
            settings,
        )
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from scoring.runner import run_scoring

        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("scoring: 0 samples", total=None)
            count = 0

            def advance(n: int) -> None:
                nonlocal count
                count += n
                progress.update(task, description=f"scoring: {count:,} samples")

            try:
                report = run_scoring(
                    source,
                    built,
                    out_dir=out_dir,
                    dataset=node_id or source,
                    split=split,
                    limit=limit,
                    restart=restart,
                    max_record_bytes=max_record_bytes,
                    progress=advance,
                )
            except Exception as exc:  # the Hub (HF_ENDPOINT) unreachable: one clear error, not a traceback
                from oda.errors import network_error

                unreachable = network_error(exc, f"the data of {source}")
                if unreachable is None:
                    raise
                raise unreachable from exc
        attached = 0
        if attach and node_id:
            attached = _attach(node_id, report.profiles, store or settings.store.uri)
        if as_json:
            emit_json({**report.to_dict(), "attached": attached})
            return
        _print_report(report, attached)


def _word_rule(value: str) -> Any:
    from oda.errors import InputError
    from scoring.lexical import WordRule

    try:
        return WordRule(value.lower())
    except ValueError:
        raise InputError(f"--word-rule must be split or oda, not {value!r}") from None


def _attach(node_id: str, profiles: list[Any], store_uri: str) -> int:
    from graph_store.factory import open_store
    from graph_store.models import Node, is_hf_id

    with open_store(store_uri) as store:
        if store.get_node(node_id) is None:
            store.upsert_nodes([Node(id=node_id, on_hub=is_hf_id(node_id))])
        return store.attach_scores(profiles)


def _print_report(report: Any, attached: int) -> None:
    from rich.table import Table

    from oda.output import console

    console.print(
        f"[bold]{report.dataset}[/]: {report.samples:,} samples in {report.seconds:.1f} s; "
        f"{report.input_errors} input errors, {report.skipped} skipped; formats {report.formats}"
    )
    for reason, n in report.error_reasons.items():
        console.print(f"  [yellow]{n}×[/] {reason}")
    table = Table("metric", "axis", "family", "n", "errors", "mean", "p50", "p95")
    for p in report.profiles:
        mean = "-" if p.mean is None else f"{p.mean:.4g}"
        table.add_row(
            p.scorer,
            p.axis,
            p.family,
            str(p.n),
            str(p.n_errors),
            mean,
            f"{p.quantiles.get('p50', float('nan')):.4g}",
            f"{p.quantiles.get('p95', float('nan')):.4g}",
        )
    console.print(table)
    console.print(f"per-sample scores and profile.json in {report.out_dir}")
    if attached:
        console.print(f"attached {attached} profiles to {report.dataset}")


def _list_scorers(as_json: bool) -> None:
    from rich.table import Table

    from oda.output import console, emit_json
    from scoring.registry import describe, registry

    rows = [describe(cls) for cls in registry().values()]
    if as_json:
        emit_json(rows)
        return
    table = Table("scorer", "family", "metric", "axis", "needs")
    for row in rows:
        needs = ", ".join(row["requires"]) + ("" if row["available"] else " (missing)")
        for i, m in enumerate(row["metrics"]):
            first = i == 0
            table.add_row(
                row["name"] if first else "",
                row["family"] if first else "",
                m["name"],
                m["axis"],
                needs if first else "",
            )
    console.print(table)
    console.print("select with --scorers heuristic|model|judge or scorer names, comma-separated")
