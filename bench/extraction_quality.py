"""Offline quality of the rules extractor and of the canonicalizer on the DPI records.

Prints edge precision / recall / F1 (every written edge, and auto edges only) over cards synthesized from the
DPI records' facts, and the canonicalization accuracy on DPI parent names whose Hub id is knowable.

    python bench/extraction_quality.py [--dpi ../shared/data/dpi] [--seed 13] [--limit N] [--mistakes 15]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lineage.canonical import Canonicalizer  # noqa: E402
from lineage.extract.rules import RulesExtractor  # noqa: E402
from lineage.quality import (  # noqa: E402
    DEFAULT_DPI_DIR,
    HELD_OUT,
    TUNED,
    dpi_hub_ids,
    evaluate_canonicalization,
    evaluate_extraction,
    evaluate_informal_spellings,
    load_dpi_records,
    make_hub_search,
    synthesize_cards,
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", default=str(DEFAULT_DPI_DIR))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--mistakes", type=int, default=10)
    parser.add_argument(
        "--phrasings",
        choices=["tuned", "held-out"],
        default="tuned",
        help="card templates: those the rules were developed on, or a held-out set",
    )
    args = parser.parse_args()

    records = load_dpi_records(args.dpi)
    if args.limit:
        records = records[: args.limit]
    phrasings = TUNED if args.phrasings == "tuned" else HELD_OUT
    cards = synthesize_cards(records, seed=args.seed, phrasings=phrasings)
    hub_search = make_hub_search(dpi_hub_ids(args.dpi))
    started = time.perf_counter()
    report = await evaluate_extraction(cards, RulesExtractor(), Canonicalizer(hub_search=hub_search))
    elapsed = time.perf_counter() - started
    auto = await evaluate_extraction(
        cards, RulesExtractor(), Canonicalizer(hub_search=hub_search), threshold=args.threshold
    )
    chunks = sum(len(c.chunks) for c in cards)
    print(
        f"DPI cards: {len(cards)} synthesized from {len(records)} records, {chunks} chunks, "
        f"{sum(len(c.gold) for c in cards)} gold parents (seed {args.seed}, {args.phrasings} phrasings)"
    )
    print(
        f"rules extractor, all written edges:  P={report.precision:.3f} R={report.recall:.3f} F1={report.f1:.3f} "
        f"(tp={report.tp} fp={report.fp} fn={report.fn}, errors={report.errors})"
    )
    print(
        f"rules extractor, auto edges (confidence >= {args.threshold}): P={auto.precision:.3f} "
        f"R={auto.recall:.3f} F1={auto.f1:.3f} (tp={auto.tp} fp={auto.fp} fn={auto.fn})"
    )
    print(
        f"extraction + canonicalization + aggregation: {elapsed:.2f} s for {chunks} chunks "
        f"({1000 * elapsed / max(1, chunks):.2f} ms per chunk)"
    )
    wrong = Counter(e.edge.source for e in report.edges if not e.correct)
    print("most frequent false-positive sources:", ", ".join(f"{k} ({v})" for k, v in wrong.most_common(8)))

    canon = await evaluate_canonicalization(Canonicalizer(hub_search=hub_search), args.dpi)
    print(
        f"canonicalization accuracy: {canon.accuracy:.3f} ({canon.correct}/{canon.total} DPI parent names "
        f"with a knowable Hub id)"
    )
    for method, (ok, n) in sorted(canon.by_method.items()):
        print(f"  resolved by {method:10}: {ok}/{n} correct")
    print(
        f"alias-table consistency: {canon.consistency:.3f} ({canon.group_pairs_consistent}/{canon.group_pairs} "
        "pairs of spellings of one source resolve to one id)"
    )
    ok, total, informal_mistakes = await evaluate_informal_spellings(
        Canonicalizer(hub_search=hub_search), args.dpi
    )
    print(
        f"informal spellings of Hub parents ('WizardLM evol instruct 70k'): {ok / max(1, total):.3f} ({ok}/{total})"
    )
    for raw, expected, got in [*canon.mistakes, *informal_mistakes][: args.mistakes]:
        print(f"  mistake: {raw!r}: expected {expected}, got {got}")


if __name__ == "__main__":
    asyncio.run(main())
