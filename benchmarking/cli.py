"""``oda bench``: render SFT/eval configs, submit batches (local or Slurm), follow them, collect and analyze results.

Settings come from options, else the config file's ``[bench]`` table (work_dir, presets, executor, partition,
gpus_per_node, cpus_per_task, mem, time, train_command, eval_command), else built-in defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from oda.output import console, emit_json

bench_app = typer.Typer(
    name="bench",
    help="SFT + evaluation jobs (LLaMA-Factory, OpenCompass) on a GPU cluster, and analysis of their results.\n\n"
    "Examples:\n\n"
    "  oda bench config --base-model qwen2.5-7b --dataset tatsu-lab/alpaca -o runs/alpaca\n\n"
    "  oda bench submit --datasets queue.txt --base-model llama3.1-8b --executor slurm --partition gpu\n\n"
    "  oda bench status\n\n"
    "  oda bench collect --attach\n\n"
    "  oda bench import-leaderboard ../shared/data/oda-leaderboard/processed_leaderboard_data.json\n\n"
    "  oda bench analyze --plots plots/ --json",
    no_args_is_help=True,
)

PresetsOpt = Annotated[
    list[Path] | None,
    typer.Option("--presets", help="extra preset file or folder (repeatable; also [bench].presets)"),
]
WorkDirOpt = Annotated[
    Path | None, typer.Option("--work-dir", help="where runs, batches and jobs.db live (default .oda/bench)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
AttachOpt = Annotated[
    bool, typer.Option("--attach", help="also join the results onto the graph's dataset nodes")
]
StoreOpt = Annotated[
    str | None, typer.Option("--store", help="graph store URI (default: config [store].uri)")
]


def _bench(ctx: typer.Context) -> Any:
    """This command's ``[bench]`` settings."""
    from oda.command import settings_of

    return settings_of(ctx).bench


def _work_dir(ctx: typer.Context, value: Path | None) -> Path:
    return value or Path(_bench(ctx).work_dir)


def _resources(
    ctx: typer.Context,
    partition: str | None,
    gpus: int | None,
    cpus: int | None,
    mem: str | None,
    time: str | None,
    preset_gpus: int,
) -> Any:
    from benchmarking.render import SlurmResources
    from oda.command import settings_of

    bench = (
        settings_of(ctx)
        .override("bench", partition=partition, gpus_per_node=gpus, cpus_per_task=cpus, mem=mem, time=time)
        .bench
    )
    return SlurmResources(
        partition=bench.partition,
        gpus_per_node=bench.gpus_per_node if bench.gpus_per_node is not None else preset_gpus,
        cpus_per_task=bench.cpus_per_task,
        mem=bench.mem,
        time=bench.time,
    )


@bench_app.command("config")
def config_cmd(
    ctx: typer.Context,
    base_model: Annotated[
        str, typer.Option("--base-model", help="llama3.1-8b, qwen2.5-7b or qwen3-8b (or a preset)")
    ],
    dataset: Annotated[str, typer.Option("--dataset", help="Hub id or local file/folder of the SFT dataset")],
    out: Annotated[
        Path, typer.Option("-o", "--out", help="folder to write train.yaml, eval_config.py, job.sh")
    ],
    long_cot: Annotated[
        bool, typer.Option("--long-cot", help="use the long chain-of-thought preset")
    ] = False,
    presets: PresetsOpt = None,
    eval_backend: Annotated[str, typer.Option("--eval-backend", help="vllm or openai")] = "vllm",
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="OpenAI-compatible endpoint (openai)")
    ] = None,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate/--no-validate", help="check train.yaml with LLaMA-Factory's parser if installed"
        ),
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Write the training YAML, the OpenCompass config and the job script of one dataset into a folder.

    Example: oda bench config --base-model llama3.1-8b --long-cot --dataset open-r1/OpenR1-Math-220k -o runs/r1
    """
    from benchmarking.jobs import JobSettings, write_run
    from benchmarking.presets import load_registry
    from benchmarking.validate import llamafactory_available, validate_train_config

    registry = load_registry(presets, configured=_bench(ctx).presets)
    preset = registry.for_base_model(base_model, long_cot=long_cot)
    settings = JobSettings(eval_backend=eval_backend, api_base=api_base)
    files = write_run(registry, preset, dataset, out, settings, allow_missing_data=True)
    info: dict[str, Any] = {
        "preset": preset.name,
        "run_dir": files.run_dir,
        "train_yaml": files.train_yaml,
        "eval_config": files.eval_config,
        "job_script": files.job_script,
        "n_samples": files.n_samples,
        "skipped_benchmarks": files.skipped_benchmarks,
        "data_error": files.data_error,
    }
    if validate and files.train_yaml is not None:
        if llamafactory_available():
            import yaml

            validate_train_config(yaml.safe_load(files.train_yaml.read_text()))
            info["validated"] = "llamafactory"
        else:
            info["validated"] = "skipped: LLaMA-Factory not installed (pip install 'oda-lineage[train]')"
    if (
        files.data_error
    ):  # one line, also with --json (on stderr): the configs are usable, the data is not there
        console.print(
            f"[yellow]the data could not be fetched yet[/]: {escape(files.data_error)}; train.yaml and the eval "
            f"config are written; run this command again to write {escape(str(files.run_dir / 'data'))}",
            highlight=False,
            soft_wrap=True,
        )
    if json_out:
        emit_json(info)
    else:
        samples = f"{files.n_samples} samples" if files.n_samples is not None else "no data yet"
        console.print(f"[green]wrote[/] {escape(str(files.run_dir))} (preset {preset.name}, {samples})")
        if files.skipped_benchmarks:
            console.print(
                f"[yellow]not in the eval config[/] (no OpenCompass dataset config): "
                f"{', '.join(files.skipped_benchmarks)}"
            )
        console.print(f"validation: {info.get('validated', 'off')}")


def _executor(name: str, resources: Any, workers: int) -> Any:
    from benchmarking.executors import LocalExecutor, SlurmExecutor
    from oda.errors import InputError

    if name == "local":
        return LocalExecutor(workers=workers)
    if name == "slurm":
        return SlurmExecutor(resources)
    raise InputError(f"unknown executor {name!r}: use local or slurm")


@bench_app.command("submit")
def submit_cmd(
    ctx: typer.Context,
    datasets: Annotated[Path, typer.Option("--datasets", help="queue file: one dataset id or path per line")],
    base_model: Annotated[str, typer.Option("--base-model", help="llama3.1-8b, qwen2.5-7b or qwen3-8b")],
    long_cot: Annotated[
        bool, typer.Option("--long-cot", help="use the long chain-of-thought preset")
    ] = False,
    executor: Annotated[str | None, typer.Option("--executor", help="local (default) or slurm")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="render everything, submit nothing")] = False,
    work_dir: WorkDirOpt = None,
    presets: PresetsOpt = None,
    partition: Annotated[str | None, typer.Option("--partition")] = None,
    gpus_per_node: Annotated[int | None, typer.Option("--gpus-per-node", help="0: no GPU request")] = None,
    cpus_per_task: Annotated[int | None, typer.Option("--cpus-per-task")] = None,
    mem: Annotated[str | None, typer.Option("--mem")] = None,
    time: Annotated[str | None, typer.Option("--time", help="Slurm time limit, e.g. 48:00:00")] = None,
    train_command: Annotated[
        str | None, typer.Option("--train-command", help="placeholders: {train_yaml} {run_dir} {dataset}")
    ] = None,
    eval_command: Annotated[
        str | None, typer.Option("--eval-command", help="placeholders: {eval_config} {eval_dir} {model_dir}")
    ] = None,
    eval_backend: Annotated[str, typer.Option("--eval-backend", help="vllm or openai")] = "vllm",
    api_base: Annotated[str | None, typer.Option("--api-base")] = None,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", help="submissions per run before giving up")
    ] = 3,
    workers: Annotated[int, typer.Option("--workers", help="local executor: runs in parallel")] = 1,
    no_base: Annotated[bool, typer.Option("--no-base", help="do not evaluate the base model")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Submit one SFT + eval job per dataset (eval after train; a job array per batch). Running it again
    requeues failed runs and skips completed or running ones.

    Example: oda bench submit --datasets queue.txt --base-model qwen2.5-7b --executor slurm --time 48:00:00
    """
    from benchmarking import render
    from benchmarking.db import JobDB
    from benchmarking.jobs import JobSettings, read_queue, submit
    from benchmarking.presets import load_registry

    registry = load_registry(presets, configured=_bench(ctx).presets)
    preset = registry.for_base_model(base_model, long_cot=long_cot)
    queue = read_queue(datasets)
    settings = JobSettings(
        work_dir=_work_dir(ctx, work_dir),
        train_command=train_command or _bench(ctx).train_command or render.DEFAULT_TRAIN_COMMAND,
        eval_command=eval_command or _bench(ctx).eval_command or render.DEFAULT_EVAL_COMMAND,
        eval_backend=eval_backend,
        api_base=api_base,
        max_attempts=max_attempts,
    )
    resources = _resources(ctx, partition, gpus_per_node, cpus_per_task, mem, time, preset.gpus)
    ex = _executor(executor or _bench(ctx).executor, resources, workers)
    with JobDB(settings.db_path) as db:
        report = submit(
            db,
            ex,
            registry,
            preset,
            queue,
            settings,
            dry_run=dry_run,
            include_base=not no_base,
            resources=resources,
        )
    if json_out:
        emit_json(report.__dict__)
        return
    summary = (
        f"batch {report.batch_id or '-'}: {len(report.submitted)} submitted, {len(report.requeued)} requeued"
    )
    _print_outcome(f"{summary}, {len(report.skipped)} skipped, {len(report.failed)} failed", report.failed)
    for cmd in report.commands:
        console.print("[dim]would run:[/] " + " ".join(cmd))


@bench_app.command("status")
def status_cmd(ctx: typer.Context, work_dir: WorkDirOpt = None, json_out: JsonOpt = False) -> None:
    """Show every run's train/eval state (asking the scheduler about jobs in flight).

    Example: oda bench status --json
    """
    from benchmarking.db import JobDB
    from benchmarking.executors import LocalExecutor
    from benchmarking.jobs import status

    with JobDB(_work_dir(ctx, work_dir) / "jobs.db") as db:
        info = status(db, LocalExecutor())
    if json_out:
        emit_json(info)
        return
    from rich.table import Table

    table = Table("run", "train", "eval", "collect")
    for run in info["runs"]:
        cells = []
        for step in ("train", "eval", "collect"):
            s = run.get(step)
            cells.append(
                "-"
                if s is None
                else f"{s['state']} ({s['attempts']})" + (f": {s['detail']}" if s["detail"] else "")
            )
        table.add_row(run["run_id"], *cells)
    console.print(table)
    if info.get("scheduler_error"):
        console.print(f"[yellow]scheduler unavailable:[/] {info['scheduler_error']}")


def _print_outcome(summary: str, failed: dict[str, str]) -> None:
    """The summary line of a batch command, then one line per failed run."""
    console.print(summary)
    for run_id, why in failed.items():
        console.print(f"[red]failed[/] {run_id}: {why}")


def _attach(ctx: typer.Context, results: list[Any], store_uri: str | None) -> dict[str, Any]:
    from graph_store.factory import open_store
    from graph_store.models import validate_node_id

    ok, rejected = [], []
    for r in results:
        try:
            validate_node_id(r.dataset)
            ok.append(r)
        except ValueError as exc:
            rejected.append(f"{r.dataset}: {exc}")
    from oda.command import settings_of

    with open_store(store_uri or settings_of(ctx).store.uri) as store:
        n = store.attach_results(ok)
    return {"attached": n, "rejected": sorted(set(rejected))}


@bench_app.command("collect")
def collect_cmd(
    ctx: typer.Context,
    work_dir: WorkDirOpt = None,
    presets: PresetsOpt = None,
    attach: AttachOpt = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Parse the OpenCompass output of every evaluated run into per-benchmark results (and deltas vs base).

    Example: oda bench collect --attach --store .oda/graph
    """
    from benchmarking.db import JobDB
    from benchmarking.executors import LocalExecutor
    from benchmarking.jobs import collect
    from benchmarking.presets import load_registry

    registry = load_registry(presets, configured=_bench(ctx).presets)
    with JobDB(_work_dir(ctx, work_dir) / "jobs.db") as db:
        report = collect(db, registry, executor=LocalExecutor())
        all_results = db.results()
    info: dict[str, Any] = {
        "collected": report.collected,
        "results": len(report.results),
        "failed": report.failed,
        "waiting": report.waiting,
        "missing_benchmarks": report.missing_benchmarks,
    }
    if attach:
        info["attach"] = _attach(ctx, all_results, store)
    if json_out:
        emit_json(info)
        return
    summary = f"collected {len(report.collected)} runs, {len(report.results)} results"
    _print_outcome(f"{summary}; {len(report.waiting)} waiting, {len(report.failed)} failed", report.failed)


@bench_app.command("import-leaderboard")
def import_leaderboard_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="ODA's processed_leaderboard_data.json")],
    work_dir: WorkDirOpt = None,
    presets: PresetsOpt = None,
    suite: Annotated[str, typer.Option("--suite", help="benchmark suite preset")] = "oda",
    attach: AttachOpt = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import OpenDataArena's published results (per dataset, base model and benchmark, with sizes).

    Example: oda bench import-leaderboard ../shared/data/oda-leaderboard/processed_leaderboard_data.json
    """
    from benchmarking.db import JobDB
    from benchmarking.leaderboard import import_leaderboard
    from benchmarking.presets import load_registry

    registry = load_registry(presets, configured=_bench(ctx).presets)
    imp = import_leaderboard(path, registry.suite(suite))
    with JobDB(_work_dir(ctx, work_dir) / "jobs.db") as db:
        db.put_results(imp.results)
        for model, rows in imp.base_scores.items():
            db.put_base_results(model, rows, source="leaderboard")
        for ds, name in imp.names.items():
            db.set_dataset(ds, name=name, size=imp.sizes.get(ds))
    info: dict[str, Any] = {
        "results": len(imp.results),
        "datasets": len(imp.names),
        "base_models": sorted(imp.base_scores),
        "errors": imp.errors,
        "notes": imp.notes,
        "unknown_tasks": sorted(imp.unknown_tasks),
    }
    if attach:
        info["attach"] = _attach(ctx, imp.results, store)
    if json_out:
        emit_json(info)
    else:
        console.print(
            f"imported {len(imp.results)} results for {len(imp.names)} datasets "
            f"({', '.join(info['base_models'])})"
        )
        for e in imp.errors:
            console.print(f"[yellow]{e}[/]")


@bench_app.command("analyze")
def analyze_cmd(
    ctx: typer.Context,
    work_dir: WorkDirOpt = None,
    presets: PresetsOpt = None,
    suite: Annotated[str, typer.Option("--suite")] = "oda",
    store: Annotated[
        str | None, typer.Option("--store", help="read results and score profiles from this graph store")
    ] = None,
    scores: Annotated[
        Path | None, typer.Option("--scores", help="ODA's processed_score_data.json for scorer correlations")
    ] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="write PNG plots into this folder")] = None,
    top: Annotated[int, typer.Option("--top", help="how many datasets in the efficiency top list")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """Domain averages, deltas, data efficiency, rankings, cross-model and scorer Spearman correlations.

    Example: oda bench analyze --scores ../shared/data/oda-leaderboard/processed_score_data.json --plots plots --json
    """
    from benchmarking.analysis import Analysis
    from benchmarking.db import JobDB
    from benchmarking.leaderboard import import_score_profiles
    from benchmarking.presets import load_registry

    registry = load_registry(presets, configured=_bench(ctx).presets)
    with JobDB(_work_dir(ctx, work_dir) / "jobs.db") as db:
        results = db.results()
        base = db.base_results()
        sizes = db.dataset_sizes()
        names = db.dataset_names()
    profiles = []
    if store:
        from graph_store.factory import open_store

        with open_store(store) as graph:
            results = graph.results()
            profiles = graph.scores()
    if scores:
        profiles = [*profiles, *import_score_profiles(scores, known=names)]
    analysis = Analysis(
        results, registry.suite(suite), base_scores=base, sizes=sizes, names=names, profiles=profiles
    )
    info = analysis.to_dict(top_k=top)
    if plots:
        from benchmarking.plots import write_plots

        info["plots"] = [str(p) for p in write_plots(analysis, plots)]
    if json_out:
        emit_json(info)
        return
    for pair, by_domain in info["spearman_cross_model"].items():
        console.print(
            f"[bold]Spearman {pair}[/]: "
            + ", ".join(f"{d} {v['rho']}" for d, v in by_domain.items() if v["rho"] is not None)
        )
    for model, rows in info["top_efficiency"].items():
        console.print(
            f"[bold]top efficiency {model}[/]: "
            + ", ".join(f"{r['name']} ({r['efficiency']:.3f})" for r in rows)
        )
    for p in info.get("plots", []):
        console.print(f"wrote {p}")


def register(app: typer.Typer) -> None:
    """Add ``oda bench …`` to the main app."""
    app.add_typer(bench_app, name="bench")
