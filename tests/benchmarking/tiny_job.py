"""A stand-in for ``llamafactory-cli train`` / ``opencompass`` in job tests: fast, deterministic, controllable.

Usage: ``python tiny_job.py train|eval RUN_DIR EVAL_DIR``. ``ODA_DATASET`` names the dataset; the folder in
``ODA_TEST_CONTROL`` steers it: a file ``fail_once.<key>.<step>`` makes the next run fail (and is removed),
``sleep.<key>.<step>`` holding N makes it sleep N seconds. Every real execution appends a line to
``ran.<key>.<step>``, so tests can count executions independently of the step scripts' own markers. The eval
step writes an OpenCompass summary (CSV and TXT, OpenCompass's layout) with scores derived from the dataset name.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from pathlib import Path

ROWS = [
    ("gsm8k", "1d7fe4", "accuracy", "gen"),
    ("math_prm800k_500", "4c5a1b", "accuracy", "gen"),
    ("openai_humaneval", "8e312c", "humaneval_pass@1", "gen"),
    ("IFEval", "3321a3", "Prompt-level-strict-accuracy", "gen"),
]


def main() -> int:
    step, run_dir, eval_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    dataset = os.environ["ODA_DATASET"]
    key = re.sub(r"[^A-Za-z0-9]+", "-", dataset).strip("-")
    control = Path(os.environ["ODA_TEST_CONTROL"])
    with (control / f"ran.{key}.{step}").open("a") as f:
        f.write(f"{time.time()} {os.environ.get('SLURM_JOB_ID', 'local')}\n")
    sleep = control / f"sleep.{key}.{step}"
    if sleep.exists():
        time.sleep(float(sleep.read_text().strip() or 1))
    fail = control / f"fail_once.{key}.{step}"
    if fail.exists():
        fail.unlink()
        print(f"failing {step} of {dataset} on purpose", file=sys.stderr)
        return 1
    if step == "train":
        (run_dir / "model").mkdir(parents=True, exist_ok=True)
        (run_dir / "model" / "config.json").write_text("{}")
        return 0
    seed = int(hashlib.sha256(dataset.encode()).hexdigest()[:8], 16)
    stamp = "20250727_120000"
    out = eval_dir / stamp / "summary"
    out.mkdir(parents=True, exist_ok=True)
    model = f"m-{key}"[:40]
    table = [["dataset", "version", "metric", "mode", model]]
    for i, row in enumerate(ROWS):
        score = 30.0 if dataset == "__base__" else 30.0 + ((seed >> (i * 4)) % 16)
        table.append([*row, f"{score:.2f}"])
    csv_text = "\n".join(",".join(r) for r in table) + "\n"
    (out / f"summary_{stamp}.csv").write_text(csv_text)
    (out / f"summary_{stamp}.txt").write_text(
        f"{stamp}\ncsv format\n" + "^" * 128 + "\n" + csv_text + "$" * 128 + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
