"""Throughput of ``oda score``, printed as figures (not assertions).

1. Heuristic profile: the command users type, ``oda score FILE --scorers heuristic`` in a subprocess, over synthetic
   alpaca JSONL shaped like real instruction data: about 1,850 characters and 410-440 o200k tokens per sample,
   words drawn from the OpenDataArena paper with their natural frequencies, about 60% of the samples mixing in
   non-ASCII words (accented Latin, Cyrillic, CJK, typographic punctuation), one in ten with a ``<think>`` block,
   one in seven with a fenced code block, one in five with an input field, and 2% exact duplicates. The floor it is
   compared with is measured in the same run, just before and just after: raw tiktoken ``o200k_base``
   ``encode_batch`` with 2 threads over each sample's text (instruction, input and output joined), already in
   memory, 1,000 samples per call; also ``encode_ordinary_batch``, which skips the special-token check and so is
   a stricter floor. The ratio is the figure that matters on a shared machine.
   Peak memory: the largest resident set of the CLI's process tree (main process plus workers, sampled every
   0.1 s), and of its main process alone.
2. LLM-as-judge: the ``judge_qa`` scorer against the scripted OpenAI-compatible server (in its own process)
   with 1 s latency per request, at concurrency 64, compared with the ideal ``ceil(n / 64)`` seconds.

Usage::

    OMP_NUM_THREADS=1 python bench/scoring_speed.py                       # 100k samples, then the judge
    python bench/scoring_speed.py --sizes 20000 --judge-samples 0 --word-rule oda
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / ".." / "shared" / "seed" / "opendataarena-paper.txt"

NON_ASCII = [
    "naïve",
    "café",
    "über",
    "Größe",
    "señal",
    "façade",
    "déjà",
    "vu",
    "–",
    "—",
    "“quoted”",
    "‘single’",
    "…",
    "数据集",
    "模型",
    "训练",
    "评估",
    "推理",
    "ответ",
    "данные",
    "μ",
    "≤",
    "→",
    "°C",
    "€",
    "日本語",
    "한국어",
    "Ελληνικά",
]
PUNCT = [",", ".", ";", ":", "?", "!", ")"]
CODE = "\n\n```python\ndef double(x):\n    return x * 2\n```\n"


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


def _text(rng: random.Random, vocab: list[str], n_words: int, non_ascii: float) -> str:
    out = []
    for _ in range(n_words):
        word = rng.choice(NON_ASCII) if rng.random() < non_ascii else rng.choice(vocab)
        if rng.random() < 0.08:
            word = str(rng.randint(0, 99999))
        if rng.random() < 0.12:
            word += rng.choice(PUNCT)
        out.append(word)
    return " ".join(out).capitalize() + "."


def sample_row(rng: random.Random, vocab: list[str], i: int) -> dict[str, str]:
    """One alpaca-style record (see the module docstring for the mix)."""
    non_ascii = 0.0 if rng.random() < 0.4 else rng.uniform(0.15, 0.6)
    row = {"instruction": _text(rng, vocab, rng.randint(27, 42), non_ascii), "input": "", "output": ""}
    if i % 10 == 3:
        think = _text(rng, vocab, rng.randint(60, 100), non_ascii)
        row["output"] = f"<think>\n{think}\n</think>\n\n" + _text(
            rng, vocab, rng.randint(150, 200), non_ascii
        )
    else:
        row["output"] = _text(rng, vocab, rng.randint(212, 262), non_ascii)
    if i % 7 == 0:
        row["output"] += CODE
    if i % 5 == 1:
        row["input"] = _text(rng, vocab, 10, non_ascii)
    return row


def write_dataset(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    vocab = vocabulary()
    earlier: list[dict[str, str]] = []
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = rng.choice(earlier) if earlier and i % 50 == 49 else sample_row(rng, vocab, i)
            if len(earlier) < 1000:
                earlier.append(row)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


RAW_SAMPLES = 50_000


def measure_raw(path: str) -> dict[str, float]:
    """Raw tiktoken over each sample's text, loaded beforehand, 1000 samples per call, 2 threads: ``encode_batch``
    (the floor the goal names; it also checks each text for special tokens) and ``encode_ordinary_batch`` (a
    stricter floor, without that check).

    At most ``RAW_SAMPLES`` samples are used: the rate does not depend on the dataset size.
    """
    from scoring.tokens import o200k_encoding

    enc = o200k_encoding()
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for _, line in zip(range(RAW_SAMPLES), fh, strict=False)]
    texts = ["\n".join(p for p in (r["instruction"], r["input"], r["output"]) if p) for r in rows]
    del rows
    encoders = {"batch": enc.encode_batch, "ordinary": enc.encode_ordinary_batch}
    for encode in encoders.values():  # warm up: thread pools, allocator
        encode(texts[:1000], num_threads=2)
    wall = dict.fromkeys(encoders, 0.0)
    cpu = dict.fromkeys(encoders, 0.0)
    tokens = dict.fromkeys(encoders, 0)
    # the two floors take turns on each chunk, so a change of load on the machine touches both alike
    for i in range(0, len(texts), 1000):
        for name, encode in encoders.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            tokens[name] += sum(map(len, encode(texts[i : i + 1000], num_threads=2)))
            wall[name] += time.perf_counter() - started
            cpu[name] += time.process_time() - cpu_started
    out: dict[str, float] = {}
    for name in encoders:
        out[f"{name}_samples_per_s"] = len(texts) / wall[name]
        out[f"{name}_tokens_per_s"] = tokens[name] / wall[name]
        out[f"{name}_cpu_us_per_sample"] = cpu[name] / len(texts) * 1e6
    return out


def _tree_stats(pid: int, cpu: dict[int, float]) -> tuple[int, int]:
    """(RSS of the process tree, RSS of the process itself) in bytes, zeros once it is gone; records each
    process's CPU seconds so far in ``cpu``."""
    import psutil

    try:
        proc = psutil.Process(pid)
        own = proc.memory_info().rss
        times = proc.cpu_times()
        cpu[pid] = times.user + times.system
        total = own
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
                times = child.cpu_times()
                cpu[child.pid] = times.user + times.system
        return total, own
    except psutil.Error:
        return 0, 0


def measure_cli(path: Path, word_rule: str) -> dict[str, float]:
    """Run ``oda score PATH --scorers heuristic`` as a user would, timing the whole process."""
    with tempfile.TemporaryDirectory() as out:
        oda = Path(sys.executable).with_name("oda")  # the console script users run
        cmd = [str(oda), "score", str(path), "--scorers", "heuristic", "-o", out, "--json"]
        cmd += ["--word-rule", word_rule]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
        peaks = [0, 0]
        cpu: dict[int, float] = {}

        def watch() -> None:
            while proc.poll() is None:
                total, own = _tree_stats(proc.pid, cpu)
                peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], own)
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        stdout, stderr = proc.communicate()
        seconds = time.perf_counter() - started
        watcher.join()
        if proc.returncode != 0:
            raise SystemExit(f"oda score failed ({proc.returncode}):\n{stderr.decode()[-3000:]}")
        report = json.loads(stdout)
    dup = next(p for p in report["profiles"] if p["scorer"] == "exact_dup")
    return {
        "samples": report["samples"],
        "samples_per_s": report["samples"] / seconds,
        "seconds": seconds,
        "peak_tree_mb": peaks[0] / 2**20,
        "peak_main_mb": peaks[1] / 2**20,
        "exact_dup_rate": dup["mean"] or 0.0,
        "cpu_us_per_sample": sum(cpu.values()) / report["samples"] * 1e6,
    }


def _judge_answer() -> str:
    from scoring.judge import QA_AXES

    return json.dumps({axis: {"score": 7, "reason": "ok"} for axis in QA_AXES})


def _serve(latency: float) -> None:
    """Run the scripted server in this process until stdin closes (the judge runs in another process)."""
    from standins.openai_compat import serve_openai

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


def _run_raw(path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--raw", str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000", help="comma-separated sample counts")
    parser.add_argument(
        "--repeats", type=int, default=1, help="CLI runs per size (each between two raw runs)"
    )
    parser.add_argument("--word-rule", default="split", choices=["split", "oda"])
    parser.add_argument("--judge-samples", type=int, default=1280)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--data-dir", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return
    if args.raw:
        print(json.dumps(measure_raw(args.raw)))
        return
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for n in (int(s) for s in args.sizes.split(",") if s):
        path = data_dir / f"alpaca_mixed_{n}.jsonl"
        if not path.exists():
            print(f"writing {path} ...", flush=True)
            write_dataset(path, n)
        before = _run_raw(path)
        for _ in range(args.repeats):
            cli = measure_cli(path, args.word_rule)
            after = _run_raw(path)
            raw = {k: (before[k] + after[k]) / 2 for k in before}
            print(
                f"oda score --scorers heuristic --word-rule {args.word_rule}, {n:,} samples "
                f"({path.stat().st_size / 1e6:.0f} MB JSONL): {cli['samples_per_s']:,.0f} samples/s "
                f"({cli['seconds']:.1f} s whole process; peak RSS {cli['peak_tree_mb']:.0f} MB for the process "
                f"tree, {cli['peak_main_mb']:.0f} MB main; exact-dup rate {cli['exact_dup_rate']:.3f})\n"
                f"  raw tiktoken, 2 threads, same texts in memory (mean of just before and just after): "
                f"encode_batch {raw['batch_samples_per_s']:,.0f} samples/s "
                f"({raw['batch_tokens_per_s'] / 1e6:.2f} M tokens/s), encode_ordinary_batch "
                f"{raw['ordinary_samples_per_s']:,.0f} samples/s\n"
                f"  ratio to encode_batch {cli['samples_per_s'] / raw['batch_samples_per_s']:.2f}, to "
                f"encode_ordinary_batch {cli['samples_per_s'] / raw['ordinary_samples_per_s']:.2f} "
                f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n"
                f"  CPU per sample: CLI {cli['cpu_us_per_sample']:.0f} us (its process tree, sampled every 0.1 s, "
                f"start-up included), encode_batch {raw['batch_cpu_us_per_sample']:.0f} us, "
                f"encode_ordinary_batch {raw['ordinary_cpu_us_per_sample']:.0f} us; CPU ratio (encode_batch CPU / CLI "
                f"CPU per sample: the wall ratio wherever both keep the cores equally busy) "
                f"{raw['batch_cpu_us_per_sample'] / cli['cpu_us_per_sample']:.2f}",
                flush=True,
            )
            before = after
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
