"""Extraction quality on real dataset cards with hand-checked labels (``../shared/data/real-cards``).

The set holds real Hugging Face dataset cards, verbatim, and a ``gold_edges.csv`` that labels every dataset-like
mention of each card: ``source`` (rows of the target came from it) or ``not_source`` (benchmarks, teacher models,
siblings, field names, tools...), with the Hub id where one is certain. The card text is read from that folder at
run time; nothing of it ships with the project.

``evaluate_real_cards`` runs the same path as ``oda trace --max-depth 0`` on each card (card chunks, extractor,
canonicalizer with a Hub existence check, aggregation) and scores the written edges:

- **Hub-id edges** against the Hub ids labelled ``source`` (a dataset is a source if any row says so);
- **off-Hub (``ext:``) edges**: an edge is a real source when one of its mentions names a row labelled ``source``;
- every wrong edge gets a **failure class**: the class of the labelled distractor it names (benchmark or
  decontamination set, model, sibling or "see also", tool or format), or, for mentions nobody labelled, the shape
  of the mistake (a path or URL fragment read as a Hub id, a field or header word, a descriptive phrase).

The Hub is emulated: the ids that exist are those the labels, the catalog, the ODA leaderboard and the card ids
name (a real run asks the Hub, see ``Canonicalizer(hub_exists=...)``).
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from catalog import Catalog, normalize_name
from evaluation.data import shared_data_dir
from graph_store.models import Edge
from lineage.aggregate import aggregate, resolution_for
from lineage.canonical import Canonicalizer, resolve_claims
from lineage.confidence import DEFAULT_WEIGHTS, ConfidenceWeights
from lineage.extract.types import Extractor, RawClaim, ResourceChunk

DEFAULT_REAL_CARDS_DIR = shared_data_dir() / "real-cards"
DEFAULT_LEADERBOARD_IDS = shared_data_dir() / "oda-leaderboard" / "id2name.jsonl"

RELIABILITY_BINS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0001)

_MODEL_WORDS = re.compile(
    r"\b(?:gpt-?\d|gpt4|llama|qwen|deepseek|r1\b|mistral|zephyr|notus|claude|gemini|starcoder\d?-instruct|"
    r"openthinker|\d+(?:\.\d+)?b\b|-\d+b\b|instruct$|turbo)",
    re.IGNORECASE,
)
_EVAL_WORDS = re.compile(
    r"decontaminat|contaminat|evaluat|benchmark|leaderboard|pass@|test set|test sets|accuracy|results? on|removed|"
    r"remove |\bscores?\b",
    re.IGNORECASE,
)
_FORMAT_WORDS = re.compile(r"\b(?:structure|style|format)\b", re.IGNORECASE)
_TOOL_WORDS = re.compile(
    r"\b(?:library|tool|toolkit|handbook|verify|verl|evalchemy|pipeline|framework)\b", re.I
)


@dataclass
class GoldRow:
    """One labelled mention of one card."""

    target: str
    mention: str
    hf_id: str
    label: str  # "source" | "not_source"
    relation: str
    evidence: str

    @property
    def is_source(self) -> bool:
        return self.label == "source"


@dataclass
class RealCard:
    """One card of the set: its id, its text and its labels."""

    id: str
    path: Path
    text: str
    gold: list[GoldRow]

    @property
    def gold_sources(self) -> set[str]:
        """Hub ids labelled ``source`` (lower case)."""
        return {r.hf_id.lower() for r in self.gold if r.is_source and r.hf_id}

    @property
    def gold_distractor_ids(self) -> set[str]:
        """Hub ids labelled only ``not_source`` (lower case)."""
        return {r.hf_id.lower() for r in self.gold if not r.is_source and r.hf_id} - self.gold_sources


def load_real_cards(root: str | Path = DEFAULT_REAL_CARDS_DIR) -> list[RealCard]:
    """The cards and labels of a real-card set folder (``cards.csv``, ``gold_edges.csv``, ``cards/``)."""
    base = Path(root)
    manifest, labels = base / "cards.csv", base / "gold_edges.csv"
    if not manifest.is_file() or not labels.is_file():
        raise FileNotFoundError(f"no real-card set at {base} (expected cards.csv and gold_edges.csv)")
    gold: dict[str, list[GoldRow]] = defaultdict(list)
    with labels.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            gold[row["target"]].append(
                GoldRow(
                    target=row["target"],
                    mention=row["mention"],
                    hf_id=(row.get("source_hf_id") or "").strip(),
                    label=row["label"].strip(),
                    relation=(row.get("relation") or "").strip(),
                    evidence=row.get("evidence") or "",
                )
            )
    cards = []
    with manifest.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            path = base / row["file"]
            cards.append(RealCard(row["id"], path, path.read_text(encoding="utf-8"), gold.get(row["id"], [])))
    return cards


def leaderboard_ids(path: str | Path = DEFAULT_LEADERBOARD_IDS) -> list[str]:
    """The Hub ids of the ODA leaderboard's datasets (``id2name.jsonl``), when the file is there."""
    p = Path(path)
    if not p.is_file():
        return []
    return [json.loads(line)["target"] for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def known_hub_ids(cards: Iterable[RealCard], catalog: Catalog, extra: Iterable[str] = ()) -> set[str]:
    """The emulated Hub: every id the labels, the card ids, the catalog and ``extra`` name."""
    ids: set[str] = set(extra)
    for card in cards:
        ids.add(card.id)
        ids.update(r.hf_id for r in card.gold if r.hf_id)
    for entry in catalog.entries:
        if entry.on_hub:
            ids.update([entry.id, *entry.also_ids])
    return ids


def make_hub_exists(ids: Iterable[str]) -> Callable[[str], Awaitable[bool | None]]:
    """An async stand-in for ``dataset_info``-based existence: True for a known id (any case), else False."""
    known = {i.lower() for i in ids}

    async def exists(repo_id: str) -> bool | None:
        return repo_id.lower() in known

    return exists


def distractor_class(row: GoldRow, catalog: Catalog) -> str:
    """The failure class a labelled ``not_source`` mention belongs to, from the mention and its evidence."""
    mention = row.mention
    if catalog.is_model_name(mention) or _MODEL_WORDS.search(mention):
        return "model"
    if _FORMAT_WORDS.search(mention):
        return "format name"
    if _TOOL_WORDS.search(mention):
        return "tool or library"
    if _EVAL_WORDS.search(row.evidence) or (catalog.lookup(mention) or _NOENTRY).is_benchmark:
        return "benchmark / decontamination"
    return "sibling / see-also / predecessor"


class _NoEntry:
    is_benchmark = False


_NOENTRY = _NoEntry()


def unlabelled_class(edge: Edge, names: list[str]) -> str:
    """The shape of a wrong edge that no label names."""
    if not edge.source.startswith("ext:"):
        return "path or URL read as a Hub id" if _looks_like_path(edge.source) else "unlabelled Hub id"
    name = names[0] if names else edge.source[4:]
    words = name.split()
    if len(words) == 1 and (name.islower() or name.strip("*`").islower()):
        return "field / header word"
    if name[:1].islower() or len(words) > 3:
        return "descriptive phrase"
    return "unlabelled name"


def _looks_like_path(repo: str) -> bool:
    org, _, name = repo.partition("/")
    return (
        org.lower()
        in {"data", "assets", "images", "img", "static", "resolve", "blob", "commit", "main", "files"}
        or name.lower().endswith((".md", ".png", ".jpg", ".json", ".jsonl", ".parquet", "-", "_"))
        or bool(re.fullmatch(r"[0-9a-f]{4,}", org))
    )


def _matches(a: str, b: str) -> bool:
    ka, kb = normalize_name(a), normalize_name(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    short, long_ = sorted((ka, kb), key=len)
    return len(short) >= 4 and short in long_


@dataclass
class ScoredRealEdge:
    """One written edge of one card, judged against the labels."""

    target: str
    edge: Edge
    on_hub: bool
    correct: bool
    failure_class: str | None
    names: list[str]
    id_unlabelled: bool = False
    """A Hub id for a real source whose id the labels leave open: left out of the Hub-id figures."""
    claims: list[RawClaim] = field(default_factory=list)
    """The source claims behind the edge (for calibration)."""
    certainty: float = 1.0
    """The canonicalization certainty of the edge's source."""


@dataclass
class RealCardReport:
    """Every written edge of every card, judged; the figures are computed at any threshold."""

    cards: list[RealCard]
    edges: list[ScoredRealEdge] = field(default_factory=list)
    errors: int = 0
    claims: int = 0

    def _kept(self, threshold: float) -> list[ScoredRealEdge]:
        return [e for e in self.edges if e.edge.confidence >= threshold]

    def hub_scores(self, threshold: float = 0.0) -> tuple[int, int, int]:
        """(tp, fp, fn) over Hub ids, per card."""
        tp = fp = 0
        found: dict[str, set[str]] = defaultdict(set)
        for e in self._kept(threshold):
            if not e.on_hub or e.id_unlabelled:
                continue
            if e.correct:
                tp += 1
                found[e.target].add(e.edge.source.lower())
            else:
                fp += 1
        fn = sum(len(c.gold_sources) for c in self.cards) - sum(len(v) for v in found.values())
        return tp, fp, fn

    def hub_prf(self, threshold: float = 0.0) -> tuple[float, float, float]:
        tp, fp, fn = self.hub_scores(threshold)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    def unlabelled_ids(self, threshold: float = 0.0) -> int:
        """Hub-id edges to real sources whose Hub id the labels leave open."""
        return sum(e.id_unlabelled for e in self._kept(threshold))

    def off_hub(self, threshold: float = 0.0) -> tuple[int, int]:
        """(real sources, all) among the ``ext:`` edges."""
        ext = [e for e in self._kept(threshold) if not e.on_hub]
        return sum(e.correct for e in ext), len(ext)

    def auto_precision(self, threshold: float) -> tuple[int, int]:
        """(right, all) among the edges at or above ``threshold``, Hub and off-Hub together."""
        kept = self._kept(threshold)
        return sum(e.correct for e in kept), len(kept)

    def distractors_as_sources(self, threshold: float = 0.0) -> tuple[int, int]:
        """(labelled Hub-id distractors that became edges, labelled Hub-id distractors)."""
        total = sum(len(c.gold_distractor_ids) for c in self.cards)
        hit = {(e.target, e.edge.source.lower()) for e in self._kept(threshold) if e.on_hub and not e.correct}
        got = sum(1 for c in self.cards for i in c.gold_distractor_ids if (c.id, i) in hit)
        return got, total

    def confusion(self, threshold: float = 0.0) -> Counter[str]:
        """Wrong edges per failure class."""
        return Counter(e.failure_class or "?" for e in self._kept(threshold) if not e.correct)

    def labelled_by_class(self, catalog: Catalog) -> Counter[str]:
        """Labelled distractors per class (the denominators of the confusion table)."""
        return Counter(distractor_class(r, catalog) for c in self.cards for r in c.gold if not r.is_source)

    def reliability(self, bins: tuple[float, ...] = RELIABILITY_BINS) -> list[tuple[float, float, int, int]]:
        """``(low, high, right, all)`` per confidence bin."""
        rows = []
        for low, high in itertools.pairwise(bins):
            inside = [e for e in self.edges if low <= e.edge.confidence < high]
            rows.append((low, min(high, 1.0), sum(e.correct for e in inside), len(inside)))
        return rows


def card_of(card: RealCard) -> object:
    """The card as the acquirer returns it (front matter split from the body)."""
    from acquisition.cards import split_card
    from acquisition.models import Card

    front, body, error = split_card(card.text)
    return Card(
        repo_id=card.id,
        url=f"https://huggingface.co/datasets/{card.id}",
        raw=card.text,
        front_matter=front,
        body=body,
        yaml_error=error,
    )


async def evaluate_real_cards(
    cards: list[RealCard],
    extractor: Extractor,
    canonicalizer: Canonicalizer,
    *,
    weights: ConfidenceWeights = DEFAULT_WEIGHTS,
    catalog: Catalog | None = None,
) -> RealCardReport:
    """Trace every card at depth 0 (card chunks only) and judge every written edge against the labels."""
    from lineage.resources import card_chunks

    catalog = catalog or canonicalizer.catalog
    report = RealCardReport(cards=cards)
    for card in cards:
        chunks: list[ResourceChunk] = card_chunks(card.id, card_of(card))
        claims: list[RawClaim] = []
        for chunk in chunks:
            extracted = await extractor.extract(chunk)
            claims.extend(extracted.claims)
            if extracted.problems:  # one chunk's failure is an error of the run, not of the bench
                report.errors += 1
        report.claims += len(claims)
        resolutions = await resolve_claims(canonicalizer, claims)
        result = aggregate(
            card.id,
            None,
            claims,
            {c.chunk_id: c for c in chunks},
            resolutions,
            {},
            threshold=0.0,
            run_id="real-cards",
            weights=weights,
            catalog=catalog,
        )
        for edge in result.edges:
            node = next(n for n in result.nodes if n.id == edge.source)
            supporting = [
                c
                for c in claims
                if c.role == "source" and (r := resolution_for(c, resolutions)) and r.id == edge.source
            ]
            names = [c.source_name for c in supporting]
            judged = _judge(card, edge, node.on_hub, names, catalog)
            judged.claims = supporting
            judged.certainty = next(
                (r.certainty for c in supporting if (r := resolution_for(c, resolutions))), 1.0
            )
            report.edges.append(judged)
    return report


def _same_hub_id(a: str, b: str, catalog: Catalog) -> bool:
    if a.lower() == b.lower():
        return True
    ea, eb = catalog.by_hub_id(a), catalog.by_hub_id(b)
    return ea is not None and ea is eb


def _judge(card: RealCard, edge: Edge, on_hub: bool, names: list[str], catalog: Catalog) -> ScoredRealEdge:
    keys = names or [edge.source.split(":", 1)[-1]]
    exact_source = next(
        (
            r
            for r in card.gold
            if r.is_source and any(normalize_name(n) == normalize_name(r.mention) for n in keys)
        ),
        None,
    )
    near_source = exact_source or next(
        (r for r in card.gold if r.is_source and any(_matches(n, r.mention) for n in keys)), None
    )
    distractor = next(
        (r for r in card.gold if not r.is_source and r.hf_id and _same_hub_id(edge.source, r.hf_id, catalog)),
        None,
    ) or next((r for r in card.gold if not r.is_source and any(_matches(n, r.mention) for n in keys)), None)
    if on_hub:
        gold = next((g for g in card.gold_sources if _same_hub_id(edge.source, g, catalog)), None)
        if gold is not None:
            fixed = edge.model_copy(update={"source": gold}) if gold != edge.source.lower() else edge
            return ScoredRealEdge(card.id, fixed, True, True, None, names)
        unlabelled_id = exact_source or (None if distractor else near_source)
        if unlabelled_id is not None and not unlabelled_id.hf_id:
            # a real source whose Hub id the labels leave open (MATH, ShareGPT, Codeforces): right, but not counted
            # in the Hub-id figures
            return ScoredRealEdge(card.id, edge, True, True, None, names, id_unlabelled=True)
        klass = distractor_class(distractor, catalog) if distractor else unlabelled_class(edge, names)
        if unlabelled_id is not None and distractor is None:
            klass = "wrong Hub id for a real source"
        return ScoredRealEdge(card.id, edge, True, False, klass, names)
    if near_source is not None and (exact_source is not None or distractor is None):
        return ScoredRealEdge(card.id, edge, False, True, None, names)
    klass = distractor_class(distractor, catalog) if distractor else unlabelled_class(edge, names)
    return ScoredRealEdge(card.id, edge, False, False, klass, names)
