"""Offline quality of the rules extractor and of the canonicalizer: on real cards, and on the DPI records.

``--set real-cards`` traces the hand-labelled real cards of ``../shared/data/real-cards`` at depth 0 and prints
Hub-id precision / recall / F1, the off-Hub (``ext:``) precision, the auto-edge precision at the threshold, a
confusion table per failure class and the reliability table (confidence bin -> observed precision).

``--set dpi`` prints edge precision / recall / F1 (every written edge, and auto edges only) over cards synthesized
from the DPI records' facts, and the canonicalization accuracy on DPI parent names whose Hub id is knowable.
``--set both`` (the default) prints both, so that one is never tuned at the other's expense.

    python bench/extraction_quality.py [--set real-cards|dpi|both] [--extractor rules|llm|auto] [--real-cards DIR]
                                       [--dpi DIR] [--phrasings tuned|held-out] [--seed 13] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from catalog import Catalog  # noqa: E402
from evaluation.dpi import (  # noqa: E402
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
from evaluation.real_cards import (  # noqa: E402
    DEFAULT_REAL_CARDS_DIR,
    evaluate_real_cards,
    known_hub_ids,
    leaderboard_ids,
    load_real_cards,
    make_hub_exists,
)
from lineage.canonical import Canonicalizer  # noqa: E402
from lineage.extract import make_extractor  # noqa: E402
from lineage.extract.rules import RulesExtractor  # noqa: E402
from lineage.runner import llm_config  # noqa: E402
from oda.settings import load_settings  # noqa: E402


async def real_cards(args: argparse.Namespace) -> None:
    catalog = Catalog.load()
    cards = load_real_cards(args.real_cards)
    hub_ids = known_hub_ids(cards, catalog, [*leaderboard_ids(), *dpi_hub_ids(args.dpi)])
    canonicalizer = Canonicalizer(
        hub_search=make_hub_search(hub_ids), hub_exists=make_hub_exists(hub_ids), catalog=catalog
    )
    extractor = make_extractor(
        args.extractor, llm_config(load_settings().llm) if args.extractor != "rules" else None
    )
    started = time.perf_counter()
    try:
        report = await evaluate_real_cards(cards, extractor, canonicalizer)
    finally:
        await extractor.aclose()
    elapsed = time.perf_counter() - started
    labels = sum(len(c.gold) for c in cards)
    print(
        f"real cards ({args.extractor} extractor): {len(cards)} cards, {labels} labels, {sum(len(c.gold_sources) for c in cards)} Hub-id "
        f"sources, {report.claims} claims, {len(report.edges)} written edges, {elapsed:.2f} s, errors={report.errors}"
    )
    p, r, f1 = report.hub_prf()
    tp, fp, fn = report.hub_scores()
    print(f"Hub-id edges, every written edge: P={p:.3f} R={r:.3f} F1={f1:.3f} (tp={tp} fp={fp} fn={fn})")
    p, r, f1 = report.hub_prf(args.threshold)
    tp, fp, fn = report.hub_scores(args.threshold)
    print(
        f"Hub-id edges, auto (confidence >= {args.threshold}): P={p:.3f} R={r:.3f} F1={f1:.3f} "
        f"(tp={tp} fp={fp} fn={fn})"
    )
    print(
        f"Hub-id edges to real sources whose id the labels leave open (not counted above): {report.unlabelled_ids()}"
    )
    tp, fp, fn = report.hub_scores()
    open_ids = report.unlabelled_ids()
    strict_p = tp / max(1, tp + fp + open_ids)
    strict_f1 = 2 * strict_p * (tp / max(1, tp + fn)) / max(1e-9, strict_p + tp / max(1, tp + fn))
    print(f"  strict (those counted as wrong): P={strict_p:.3f} F1={strict_f1:.3f}")
    real, total = report.off_hub()
    print(f"off-Hub (ext:) edges that are real sources: {real}/{total} ({real / max(1, total):.3f})")
    right, kept = report.auto_precision(args.threshold)
    print(
        f"auto edges (confidence >= {args.threshold}), Hub and off-Hub: precision {right / max(1, kept):.3f} "
        f"({right}/{kept})"
    )
    got, dist = report.distractors_as_sources()
    print(f"labelled Hub-id distractors written as sources: {got}/{dist}")
    print(
        "wrong edges per failure class (all written edges; labelled distractors of that class in brackets):"
    )
    labelled = report.labelled_by_class(catalog)
    confusion = report.confusion()
    for klass in sorted(set(confusion) | set(labelled)):
        extra = f" [{labelled[klass]} labelled]" if klass in labelled else ""
        print(f"  {klass:38} {confusion.get(klass, 0):3}{extra}")
    print("reliability (confidence bin -> observed precision of written edges):")
    for low, high, ok, n in report.reliability():
        shown = f"{ok / n:.3f}" if n else "  -  "
        print(f"  [{low:.1f}, {high:.1f}{']' if high >= 1.0 else ')'}  {shown}  ({ok}/{n})")
    if args.mistakes:
        wrong = [e for e in report.edges if not e.correct][: args.mistakes]
        for e in wrong:
            print(
                f"  wrong: {e.target} <- {e.edge.source} ({e.failure_class}, {e.edge.confidence:.2f}) {e.names[:2]}"
            )
        hub_found = {(e.target, e.edge.source.lower()) for e in report.edges if e.on_hub and e.correct}
        missed = [(c.id, g) for c in cards for g in sorted(c.gold_sources) if (c.id, g) not in hub_found]
        print(
            "  missed Hub sources:", ", ".join(f"{t.split('/')[1]}<-{g}" for t, g in missed[: args.mistakes])
        )


async def dpi(args: argparse.Namespace) -> None:
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", default=str(DEFAULT_DPI_DIR))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--real-cards", default=str(DEFAULT_REAL_CARDS_DIR))
    parser.add_argument("--set", choices=["real-cards", "dpi", "both"], default="both", dest="which")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument(
        "--extractor",
        choices=["rules", "llm", "auto"],
        default="rules",
        help="real cards only; llm and auto read the [llm] settings or ODA_LLM_BASE_URL / ODA_LLM_MODEL",
    )
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--mistakes", type=int, default=10)
    parser.add_argument(
        "--phrasings",
        choices=["tuned", "held-out"],
        default="tuned",
        help="DPI card templates: those the rules were developed on, or a held-out set",
    )
    args = parser.parse_args()
    if args.which in ("real-cards", "both"):
        await real_cards(args)
    if args.which in ("dpi", "both"):
        await dpi(args)


if __name__ == "__main__":
    asyncio.run(main())
