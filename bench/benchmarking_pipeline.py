"""Figures for the benchmarking package, printed (never asserted):

- analysis of ODA's real leaderboard (import, all analyses, plots), wall time;
- job overhead of the local executor: N tiny runs (train + eval as `true`-like commands) submitted and collected;
- the same batch on Slurm when a controller is running: submit-to-done time and one status refresh.

Run: python bench/benchmarking_pipeline.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from evaluation.data import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
DATA = shared_data_dir() / "oda-leaderboard"

FAKE_EVAL = (
    "mkdir -p {eval_dir}/20250101_000000/summary && printf 'dataset,version,metric,mode,m\\n"
    "gsm8k,1,accuracy,gen,50.00\\nIFEval,1,accuracy,gen,40.00\\n' > {eval_dir}/20250101_000000/summary/summary_x.csv"
)


def bench_analysis() -> None:
    from benchmarking.analysis import Analysis
    from benchmarking.leaderboard import import_leaderboard, import_score_profiles
    from benchmarking.plots import write_plots
    from benchmarking.presets import load_registry

    suite = load_registry().suite("oda")
    t0 = time.perf_counter()
    imp = import_leaderboard(DATA / "processed_leaderboard_data.json", suite)
    profiles = import_score_profiles(DATA / "processed_score_data.json", known=imp.names)
    t1 = time.perf_counter()
    base = {m: {b: s for b, _, _, s in rows} for m, rows in imp.base_scores.items()}
    analysis = Analysis(
        imp.results, suite, base_scores=base, sizes=imp.sizes, names=imp.names, profiles=profiles
    )
    result = analysis.to_dict()
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_plots(analysis, tmp)
    t3 = time.perf_counter()
    print(
        f"leaderboard import: {len(imp.results)} results, {len(profiles)} score profiles in {t1 - t0:.2f} s"
    )
    print(f"all analyses: {t2 - t1:.2f} s; three PNG plots: {t3 - t2:.2f} s")
    for pair, table in result["spearman_cross_model"].items():
        print(f"Spearman {pair}: " + ", ".join(f"{d} {v['rho']:+.3f} (n={v['n']})" for d, v in table.items()))
    for model, rows in result["top_efficiency"].items():
        print(
            f"top-5 efficiency {model}: "
            + "; ".join(
                f"{r['name']} {r['efficiency']:.3f}/1k (gain {r['delta']:+.2f}, {r['size']} samples)"
                for r in rows
            )
        )


def _batch(executor_name: str, n: int) -> None:
    from benchmarking.db import JobDB
    from benchmarking.executors import LocalExecutor, SlurmExecutor
    from benchmarking.jobs import JobSettings, collect, status, submit
    from benchmarking.presets import load_registry
    from benchmarking.render import SlurmResources

    registry = load_registry()
    preset = registry.for_base_model("qwen2.5-7b")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        queue = []
        for i in range(n):
            p = folder / f"d{i}.jsonl"
            p.write_text(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n")
            queue.append(str(p))
        settings = JobSettings(work_dir=folder / "work", train_command="true", eval_command=FAKE_EVAL)
        executor = (
            LocalExecutor()
            if executor_name == "local"
            else SlurmExecutor(SlurmResources(gpus_per_node=0, cpus_per_task=1))
        )
        with JobDB(settings.db_path) as db:
            t0 = time.perf_counter()
            submit(db, executor, registry, preset, queue, settings)
            t1 = time.perf_counter()
            while True:
                s0 = time.perf_counter()
                info = status(db, executor)
                s1 = time.perf_counter()
                states = [r.get("eval", {}).get("state") for r in info["runs"]]
                if all(s in ("completed", "failed", "killed", "lost", "blocked") for s in states):
                    break
                time.sleep(0.5)
            t2 = time.perf_counter()
            rep = collect(db, registry)
            t3 = time.perf_counter()
        done = sum(1 for s in states if s == "completed")
        print(
            f"{executor_name}: {n} runs + base: submit {t1 - t0:.2f} s, all done after {t2 - t0:.2f} s "
            f"({done}/{n + 1} completed), one status refresh {1000 * (s1 - s0):.0f} ms, "
            f"collect {1000 * (t3 - t2):.0f} ms for {len(rep.results)} results"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    bench_analysis()
    _batch("local", args.runs)
    if shutil.which("squeue") and subprocess.run(["squeue"], capture_output=True).returncode == 0:
        _batch("slurm", args.runs)
    else:
        print("slurm: no running controller; skipped")


if __name__ == "__main__":
    main()
