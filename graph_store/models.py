"""The data model shared by every package: lineage nodes, edges, review decisions, scores and results.

A node is a dataset, identified by its canonical Hugging Face id (``org/name``). Sources with no Hub id
(AoPS, Wikipedia, "textbooks") are nodes too, with a stable ``ext:`` slug id and ``on_hub=False``.

An edge points from the derived dataset (``target``) to the dataset it was built from (``source``):
``(target)-[:DERIVED_FROM]->(source)``. The pair ``(target, source)`` identifies an edge.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Relationship(enum.StrEnum):
    """How a source contributes to the dataset derived from it (OpenDataArena's five types)."""

    SEMANTIC_EVOLUTION = "Semantic Evolution"
    COT_DISTILLATION = "CoT Distillation"
    SYNTHETIC_GENERATION = "Synthetic Generation"
    STRUCTURED_FUSION = "Structured Fusion"
    DIRECT_INCLUSION = "Direct Inclusion/Subset"

    @classmethod
    def parse(cls, value: str | Relationship) -> Relationship:
        """Accept the canonical label or a loose spelling ("cot_distillation", "subset", "fusion")."""
        if isinstance(value, Relationship):
            return value
        if value in _RELATIONSHIP_VALUES:
            return cls(value)
        key = re.sub(r"[^a-z]", "", str(value).lower())
        for member in cls:
            if (
                re.sub(r"[^a-z]", "", member.value.lower()) == key
                or member.name.lower().replace("_", "") == key
            ):
                return member
        for alias, member in _RELATIONSHIP_ALIASES.items():
            if alias == key:
                return member
        raise ValueError(
            f"unknown relationship {value!r}; expected one of: {', '.join(m.value for m in cls)}"
        )


_RELATIONSHIP_VALUES = frozenset(m.value for m in Relationship)
_RELATIONSHIP_ALIASES: dict[str, Relationship] = {
    "evolution": Relationship.SEMANTIC_EVOLUTION,
    "rewrite": Relationship.SEMANTIC_EVOLUTION,
    "distillation": Relationship.COT_DISTILLATION,
    "cotdistill": Relationship.COT_DISTILLATION,
    "synthetic": Relationship.SYNTHETIC_GENERATION,
    "generation": Relationship.SYNTHETIC_GENERATION,
    "fusion": Relationship.STRUCTURED_FUSION,
    "merge": Relationship.STRUCTURED_FUSION,
    "subset": Relationship.DIRECT_INCLUSION,
    "inclusion": Relationship.DIRECT_INCLUSION,
    "directinclusion": Relationship.DIRECT_INCLUSION,
}


class EdgeStatus(enum.StrEnum):
    """Review state of an edge. ``approved``, ``rejected`` and ``edited`` are human decisions."""

    AUTO = "auto"
    FLAGGED = "flagged"
    APPROVED = "approved"
    REJECTED = "rejected"
    EDITED = "edited"

    @property
    def is_human(self) -> bool:
        return self in HUMAN_STATUSES


HUMAN_STATUSES = frozenset({EdgeStatus.APPROVED, EdgeStatus.REJECTED, EdgeStatus.EDITED})


class Action(enum.StrEnum):
    """What a reviewer does to an edge (``GraphStore.decide``): one of four decisions, or the undo of one."""

    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"
    REPOINT = "repoint"
    UNDO = "undo"

    @property
    def is_decision(self) -> bool:
        """True for the decisions an undo reverts; False for ``undo`` itself."""
        return self in DECISION_ACTIONS

    @classmethod
    def parse(cls, value: str | Action) -> Action:
        """The action ``value`` names, or ``ValueError`` listing the actions."""
        try:
            return cls(value)
        except ValueError:
            expected = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown action {value!r}; expected one of: {expected}") from None


# The decisions (every action but ``undo``); an audit entry's action may also be one these never write (``import``).
DECISION_ACTIONS = frozenset({Action.APPROVE, Action.REJECT, Action.EDIT, Action.REPOINT})


class SourceKind(enum.StrEnum):
    """Where a piece of evidence was found, from most to least credible."""

    CARD_YAML = "card_yaml"
    CARD = "card"
    PAPER = "paper"
    GITHUB = "github"
    BLOG = "blog"
    IMPORT = "import"
    HUMAN = "human"


class Domain(enum.StrEnum):
    MATH = "Math"
    CODE = "Code"
    SCIENCE = "Science"
    GENERAL = "General"


HF_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}$")
EXT_ID_RE = re.compile(r"^ext:[a-z0-9][a-z0-9\-]{0,120}$")


def is_hf_id(value: str) -> bool:
    """True for a well-formed Hub repo id ``org/name`` (no ``--`` or ``..``, as the Hub requires)."""
    return (
        bool(HF_ID_RE.match(value)) and "--" not in value and ".." not in value and not value.endswith(".git")
    )


def ext_id(name: str) -> str:
    """A stable ``ext:`` id for a source with no Hub id: ``"AoPS Wiki"`` -> ``"ext:aops-wiki"``."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:120].strip("-")
    if not slug:
        raise ValueError(f"cannot derive an id from {name!r}")
    return f"ext:{slug}"


def validate_node_id(value: str) -> str:
    """Return ``value`` if it is an HF id or an ``ext:`` id, else raise ``ValueError`` with the reason."""
    if not isinstance(value, str) or not value:
        raise ValueError("node id must be a non-empty string")
    if is_hf_id(value) or EXT_ID_RE.match(value):
        return value
    raise ValueError(f"invalid node id {value[:80]!r}: expected 'org/name' or 'ext:slug'")


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- what the engines can hold ----------------------------------------------------------------------------------

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DEFAULT_MAX_TEXT_CHARS = 1_000_000
MAX_NESTING = 32
_text_cap: list[int] = [DEFAULT_MAX_TEXT_CHARS]


def max_text_chars() -> int:
    """The longest string a stored field may hold (default 1,000,000; the ``oda`` command sets
    ``[store].max_text_chars`` with ``set_max_text_chars``)."""
    return _text_cap[0]


def set_max_text_chars(value: int) -> None:
    """Set the limit ``max_text_chars`` returns for this process (at least 1)."""
    _text_cap[0] = max(1, int(value))


def check_storable(value: Any, where: str = "value", depth: int = 0) -> None:
    """Raise ``ValueError`` unless ``value`` fits the engines: int64 integers, finite floats, strings within
    ``max_text_chars``, containers nested at most ``MAX_NESTING`` deep."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"{where}: {value} does not fit a 64-bit integer")
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"{where}: {value} is not a finite number")
    elif isinstance(value, str):
        if len(value) > max_text_chars():
            raise ValueError(f"{where}: a string of {len(value)} characters; the limit is {max_text_chars()}")
    elif isinstance(value, (dict, list, tuple)):
        if depth >= MAX_NESTING:
            raise ValueError(f"{where}: nested deeper than {MAX_NESTING} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                check_storable(key, where, depth + 1)
            check_storable(item, f"{where}.{key}", depth + 1)


class _Storable(BaseModel):
    """A model whose every field fits the engines (``check_storable``)."""

    @model_validator(mode="after")
    def _fits_the_engine(self) -> _Storable:
        cap = _text_cap[0]
        for name, value in self.__dict__.items():
            kind = type(value)  # enums, floats (finite already: allow_inf_nan=False), bools, dates pass
            if kind is str:
                if len(value) > cap:
                    raise ValueError(f"{name}: a string of {len(value)} characters; the limit is {cap}")
            elif kind is int:
                if not INT64_MIN <= value <= INT64_MAX:
                    raise ValueError(f"{name}: {value} does not fit a 64-bit integer")
            elif kind is dict or kind is list:
                check_storable(value, name)
        if self.__pydantic_extra__:
            check_storable(self.__pydantic_extra__, "extra")
        return self


class Node(_Storable):
    """A dataset (or an off-Hub source such as a website or a competition)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str
    name: str | None = None
    on_hub: bool = True
    created_at: datetime | None = None
    downloads: int | None = None
    domains: list[str] = Field(default_factory=list)
    is_benchmark: bool = False
    summary: str | None = None
    trace_status: str | None = Field(default=None, description="pending, traced, dropped, failed")
    trace_note: str | None = Field(default=None, description="why a node was dropped or failed")

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        return validate_node_id(v)


class ConfidenceComponents(_Storable):
    """The parts a computed confidence is made of, kept so reviewers can see why."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    support: float = Field(ge=0, le=1, description="strength of the textual support")
    credibility: float = Field(ge=0, le=1, description="credibility of the source kind")
    agreement: float = Field(ge=0, le=1, description="agreement across independent sources")


MAX_EVIDENCE_CHARS = 20_000


class Edge(_Storable):
    """``(target)-[:DERIVED_FROM]->(source)``: ``target`` was (partly) built from ``source``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    target: str
    source: str
    relationship: Relationship
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str = ""
    evidence_url: str | None = None
    source_kind: SourceKind | None = None
    extractor: str | None = Field(default=None, description="rules, llm, import or human")
    status: EdgeStatus = EdgeStatus.AUTO
    split: str | None = Field(default=None, description="train/test when the source split is known")
    teacher: str | None = Field(default=None, description="teacher model of a distillation edge")
    components: ConfidenceComponents | None = None
    run_id: str | None = None
    note: str | None = None
    version: int = Field(default=0, description="bumped on every status change; used to detect conflicts")
    updated_at: datetime | None = None

    @field_validator("target", "source")
    @classmethod
    def _check_ids(cls, v: str) -> str:
        return validate_node_id(v)

    @field_validator("relationship", mode="before")
    @classmethod
    def _parse_relationship(cls, v: Any) -> Relationship:
        return Relationship.parse(v)

    @field_validator("evidence")
    @classmethod
    def _cap_evidence(cls, v: str) -> str:
        if len(v) > MAX_EVIDENCE_CHARS:
            raise ValueError(f"evidence is {len(v)} characters; the limit is {MAX_EVIDENCE_CHARS}")
        return v

    @model_validator(mode="after")
    def _no_self_loop(self) -> Edge:
        if self.target == self.source:
            raise ValueError(f"self-loop: {self.target} cannot derive from itself")
        return self

    @property
    def key(self) -> tuple[str, str]:
        return (self.target, self.source)


class AuditEntry(_Storable):
    """One append-only record of a human decision on an edge."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    seq: int | None = None
    target: str
    source: str
    action: str = Field(description="approve, reject, edit, repoint, undo, import")
    reviewer: str
    at: datetime = Field(default_factory=utcnow)
    previous: dict[str, Any] = Field(
        default_factory=dict, description="the edge's fields before the decision"
    )
    new: dict[str, Any] = Field(default_factory=dict, description="the fields the decision set")
    reason: str | None = None


class ScoreProfile(_Storable):
    """A dataset's aggregate on one scorer axis (same shape as ODA's processed_score_data.json)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    dataset: str
    scorer: str
    axis: str = Field(description="Q or QA")
    family: str = Field(description="Heuristic, Model-based Evaluation, LLM-as-Judge")
    mean: float | None
    n: int
    n_errors: int = 0
    quantiles: dict[str, float] = Field(default_factory=dict)
    histogram: dict[str, Any] = Field(default_factory=dict, description="{'edges': [...], 'counts': [...]}")
    range: list[float] | None = None
    run_id: str | None = None


class BenchResult(_Storable):
    """One evaluation result of a model fine-tuned on a dataset, on one benchmark."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    dataset: str
    base_model: str
    benchmark: str
    domain: str | None = None
    metric: str = "accuracy"
    score: float
    base_score: float | None = None
    delta: float | None = None
    run_id: str | None = None
    source: str = Field(default="collect", description="collect or leaderboard")


class ContaminationHit(BaseModel):
    """A dataset from which a benchmark is reachable upstream, with one shortest witness path."""

    dataset: str
    path: list[str] = Field(description="[dataset, ..., benchmark]")
    min_confidence: float
    hops: int
    benchmark_score: float | None = Field(
        default=None, description="the dataset's own result on this benchmark"
    )


class Subgraph(BaseModel):
    """Nodes and edges around a root (upstream or downstream tree)."""

    root: str
    nodes: list[Node]
    edges: list[Edge]


class UpsertReport(BaseModel):
    """What a batched write did."""

    created: int = 0
    updated: int = 0
    protected: int = Field(default=0, description="edges skipped because a human decided them")
    unchanged: int = Field(default=0, description="stored edges the write would not change (not rewritten)")
    cycles: list[str] = Field(
        default_factory=list,
        description="edges written as cycle candidates (flagged, out of the DAG), with the cycle",
    )
    rejected: list[str] = Field(default_factory=list, description="invalid rows with the reason")
