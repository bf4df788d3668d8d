"""Throughput of the scoring package, printed as figures (not assertions).

1. Heuristic profile: one streaming pass of ``run_scoring`` with the ``heuristic_profile`` scorer over synthetic
   alpaca JSONL (about 40-word instructions and 300-word responses, words drawn from the OpenDataArena paper
   so their frequencies are natural), against the physical limit: raw tiktoken ``o200k_base``
   ``encode_ordinary_batch`` with 2 threads over the same texts, already in memory. Peak memory (max RSS) is
   measured in a fresh subprocess per run.
2. LLM-as-judge: the ``judge_qa`` scorer against the scripted OpenAI-compatible server (in its own process)
   with 1 s latency per request, at concurrency 64, compared with the ideal ``ceil(n / 64)`` seconds.

Usage::

    OMP_NUM_THREADS=1 python bench/scoring.py                 # 100k and 1M samples, then the judge
    python bench/scoring.py --sizes 100000 --judge-samples 640
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / ".." / "shared" / "seed" / "opendataarena-paper.txt"
sys.path.insert(0, str(ROOT))


def vocabulary() -> list[str]:
    """Words of the paper with their natural repetition (falls back to a fixed synthetic list)."""
    if PAPER.is_file():
        found = re.findall(r"[A-Za-z][A-Za-z'-]+", PAPER.read_text(encoding="utf-8", errors="ignore"))
        if len(found) > 1000:
            return found
    rng = random.Random(7)
    return [
        "".join(rng.choice("etaoinshrdlcumwfgypbvk") for _ in range(rng.randint(2, 9))) for _ in range(20000)
    ]


def write_dataset(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    vocab = vocabulary()

    def text(words: int) -> str:
        out = rng.choices(vocab, k=words)
        return " ".join(out).capitalize() + "."

    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = {
                "instruction": text(rng.randint(32, 48)),
                "input": "",
                "output": text(rng.randint(260, 340)),
            }
            if i % 50 == 7:  # a few exact duplicates so the dedup path does real work
                row = {"instruction": "Repeat the same question.", "input": "", "output": "The same answer."}
            fh.write(json.dumps(row) + "\n")
    tmp.replace(path)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


RAW_SAMPLES = 200_000


def measure_raw(path: str) -> dict[str, float]:
    """Raw encode_ordinary_batch (2 threads) over texts loaded beforehand, 1000 samples per call.

    At most ``RAW_SAMPLES`` samples are used: the rate does not depend on the dataset size.
    """
    from scoring.tokens import o200k_encoding

    enc = o200k_encoding()
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for _, line in zip(range(RAW_SAMPLES), fh, strict=False)]
    texts = [(r["instruction"], r["output"]) for r in rows]
    del rows
    started = time.perf_counter()
    tokens = 0
    for i in range(0, len(texts), 1000):
        chunk = texts[i : i + 1000]
        encoded = enc.encode_ordinary_batch([t for pair in chunk for t in pair], num_threads=2)
        tokens += sum(map(len, encoded))
    seconds = time.perf_counter() - started
    return {"samples_per_s": len(texts) / seconds, "tokens_per_s": tokens / seconds, "seconds": seconds}


def measure_profile(path: str) -> dict[str, float]:
    from scoring.heuristic import HeuristicScorer
    from scoring.runner import run_scoring

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        report = run_scoring(path, [HeuristicScorer()], out_dir=out)
        seconds = time.perf_counter() - started
    dup = next(p for p in report.profiles if p.scorer == "exact_dup")
    return {
        "samples_per_s": report.samples / seconds,
        "seconds": seconds,
        "peak_rss_mb": _peak_mb(),
        "exact_dup_rate": dup.mean or 0.0,
    }


def _judge_answer() -> str:
    from scoring.judge import QA_AXES

    return json.dumps({axis: {"score": 7, "reason": "ok"} for axis in QA_AXES})


def _serve(latency: float) -> None:
    """Run the scripted server in this process until stdin closes (the judge runs in another process)."""
    from tests.support.openai_server import serve_openai

    with serve_openai([_judge_answer()], latency_s=latency) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


def measure_judge(n: int, concurrency: int, latency: float) -> dict[str, float]:
    from scoring.judge import JudgeQAScorer
    from scoring.samples import Sample

    samples = [Sample(id=str(i), instruction=f"question {i}", response=f"answer {i}") for i in range(n)]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            scorer = JudgeQAScorer(
                base_url=base_url,
                model="bench-judge",
                api_key="bench",
                concurrency=concurrency,
                cache_path=Path(tmp) / "cache.sqlite",
            )
            started = time.perf_counter()
            results = scorer.score_batch(samples)
            seconds = time.perf_counter() - started
            scorer.close()
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
    ok = sum(1 for r in results if all(s.error is None for s in r.values()))
    ideal = math.ceil(n / concurrency) * latency
    return {"samples": n, "ok": ok, "seconds": seconds, "ideal_s": ideal, "efficiency": ideal / seconds}


def _child(kind: str, path: str) -> None:
    result = measure_raw(path) if kind == "raw" else measure_profile(path)
    print(json.dumps(result))


def _run_child(kind: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated sample counts")
    parser.add_argument("--judge-samples", type=int, default=1280)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--data-dir", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return
    if args.child:
        _child(*args.child)
        return
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for n in (int(s) for s in args.sizes.split(",") if s):
        path = data_dir / f"alpaca_{n}.jsonl"
        if not path.exists():
            print(f"writing {path} ...", flush=True)
            write_dataset(path, n)
        # raw tokenization just before and just after the profile: the machine's load drifts
        before = _run_child("raw", path)
        prof = _run_child("profile", path)
        after = _run_child("raw", path)
        raw = {k: (before[k] + after[k]) / 2 for k in before}
        print(
            f"heuristic profile, {n:,} samples ({path.stat().st_size / 1e6:.0f} MB JSONL): "
            f"{prof['samples_per_s']:,.0f} samples/s ({prof['seconds']:.1f} s, peak RSS {prof['peak_rss_mb']:.0f} MB, "
            f"exact-dup rate {prof['exact_dup_rate']:.3f}); raw encode_ordinary_batch x2 threads "
            f"{raw['samples_per_s']:,.0f} samples/s ({raw['tokens_per_s'] / 1e6:.2f} M tokens/s; "
            f"{before['samples_per_s']:,.0f} before, {after['samples_per_s']:,.0f} after); "
            f"ratio {prof['samples_per_s'] / raw['samples_per_s']:.0%} "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
            flush=True,
        )
    if args.judge_samples:
        j = measure_judge(args.judge_samples, args.concurrency, args.latency)
        print(
            f"judge_qa, {j['samples']} samples, latency {args.latency:.1f} s, concurrency {args.concurrency}: "
            f"{j['seconds']:.2f} s vs ideal {j['ideal_s']:.2f} s -> {j['efficiency']:.0%} of ideal "
            f"({j['ok']} ok, {j['samples'] / j['seconds']:.1f} samples/s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
