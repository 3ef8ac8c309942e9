"""The GenAI disclosure report: what was generated, with which model, on whose approval and consent.

Rendering only. The service layer gathers a plain JSON-able dict (schema ``Disclosure.1``) from
the ledger; this module validates it (`DisclosureData.from_dict`, a `SpecError` naming the field
on any fault - a report built from a malformed ledger export must not look complete) and writes
JSON, a self-contained HTML page, a PDF and the credits notice.

Why these outputs: Netflix asks partners to notify and get written approval for final-deliverable,
likeness and similar uses (the report is what you send); EU AI Act Art. 50(4) limits the deployer's
duty for artistic works to a non-intrusive notice such as in the credits (`credits_notice`), and
Art. 50(2) wants generated outputs machine-readably marked (`marking_statement` reports whether
every output really carries C2PA Content Credentials and an invisible watermark).
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from xml.sax.saxutils import escape as xml_escape

from soundstage.domain.safeguards import (
    DIGITAL_ALTERATION_OPERATIONS,
    LIKENESS_OPERATIONS,
    OperationKind,
)
from soundstage.errors import SpecError, WorkspaceError

__all__ = [
    "SCHEMA",
    "FORMATS",
    "DisclosureData",
    "ProductionRef",
    "ModelInfo",
    "RuleReason",
    "DecisionInfo",
    "ApprovalInfo",
    "ConsentInfo",
    "WatermarkRef",
    "C2paRef",
    "AssetInfo",
    "GenAIUse",
    "QuarantinedAsset",
    "PerformerDepicted",
    "SceneSeries",
    "ChartBar",
    "scene_series",
    "html_document",
    "operation_label",
    "chart_bars",
    "summarize",
    "credits_notice",
    "marking_statement",
    "render_json",
    "render_html",
    "render_pdf",
    "render_disclosure",
]

SCHEMA = "Disclosure.1"
FORMATS = ("json", "html", "pdf")
NO_SCENE = "(no scene)"

DELIVERABLES = ("temporary", "final")
TRAINING_DATA = ("owned", "licensed", "public_domain", "unknown")
OUTCOMES = ("proceed", "escalate", "deny")
VERDICTS = ("approve", "reject")
CONSENT_STATUSES = ("active", "revoked", "expired", "suspended")
ASSET_STATUSES = ("active", "quarantined")

_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: Operations that put no pixels or sound on screen by themselves (nothing to disclose to viewers).
_NON_CONTENT_OPERATIONS = frozenset({OperationKind.TRAINING.value})
_LIKENESS = frozenset(op.value for op in LIKENESS_OPERATIONS) - _NON_CONTENT_OPERATIONS
_ALTERATION = frozenset(op.value for op in DIGITAL_ALTERATION_OPERATIONS)
_REPLICA_VISUAL = frozenset({OperationKind.LIKENESS_REPLICA.value})
_VOICE = frozenset({OperationKind.VOICE_SYNTHESIS.value})

_OPERATION_LABELS = {
    "ideation": "Ideation",
    "concept_art": "Concept art",
    "storyboard": "Storyboard",
    "background_element": "Background element",
    "key_visual": "Key visual",
    "generated_character": "Generated character",
    "likeness_cosmetic": "Cosmetic likeness fix",
    "likeness_deage": "De-ageing",
    "likeness_replica": "Digital replica",
    "performance_alteration": "Performance alteration",
    "background_replacement": "Background replacement",
    "set_extension": "Set extension",
    "cleanup": "Clean-up",
    "voice_synthesis": "Voice synthesis",
    "training": "Model training",
}
_TRAINING_LABELS = {
    "owned": "Owned",
    "licensed": "Licensed",
    "public_domain": "Public domain",
    "unknown": "UNKNOWN",
}

#: Okabe-Ito colour-blind-safe palette first, then extra distinct hues.
_PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
    "#F0E442", "#000000", "#882255", "#44AA99", "#999933", "#AA4499",
    "#6699CC", "#888888", "#117733",
)


def operation_label(operation: str) -> str:
    """Readable name for an operation id; unknown ids are shown de-underscored, not hidden."""
    return _OPERATION_LABELS.get(operation, operation.replace("_", " ").capitalize())


# --------------------------------------------------------------------------- validation


class _Fields:
    """Reads one mapping of the document and names the full field path in every error."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise SpecError(f"must be an object, got {_kind(value)}", field=path or "(document)")
        self.data = value
        self.path = path
        self.seen: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, *, optional: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if optional:
                return None
            raise SpecError("is missing", field=self.name(key))
        return self.data[key]

    def text(self, key: str, *, nullable: bool = False, empty_ok: bool = False) -> str | None:
        value = self._get(key, optional=nullable)
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise SpecError(f"must be a string, got {_kind(value)}", field=self.name(key))
        if not empty_ok and not value.strip():
            raise SpecError("must not be empty", field=self.name(key))
        if _BAD_CONTROL.search(value):
            raise SpecError("contains control characters", field=self.name(key))
        return value

    def required_text(self, key: str, *, empty_ok: bool = False) -> str:
        value = self.text(key, empty_ok=empty_ok)
        assert value is not None
        return value

    def choice(self, key: str, choices: Sequence[str]) -> str:
        value = self.required_text(key)
        if value not in choices:
            raise SpecError(f"{value!r} is not one of {', '.join(choices)}", field=self.name(key))
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key, optional=False)
        if not isinstance(value, bool):
            raise SpecError(f"must be true or false, got {_kind(value)}", field=self.name(key))
        return value

    def timestamp(self, key: str, *, nullable: bool = False) -> str | None:
        value = self.text(key, nullable=nullable)
        if value is None:
            return None
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise SpecError(f"{value!r} is not an ISO-8601 date/time", field=self.name(key)) from None
        return value

    def items(self, key: str) -> list[tuple[Any, str]]:
        value = self._get(key, optional=False)
        if not isinstance(value, list):
            raise SpecError(f"must be a list, got {_kind(value)}", field=self.name(key))
        return [(item, f"{self.name(key)}[{i}]") for i, item in enumerate(value)]

    def texts(self, key: str) -> tuple[str, ...]:
        out = []
        for item, path in self.items(key):
            if not isinstance(item, str) or not item.strip():
                raise SpecError(f"must be a non-empty string, got {_kind(item)}", field=path)
            if _BAD_CONTROL.search(item):
                raise SpecError("contains control characters", field=path)
            out.append(item)
        return tuple(out)

    def sub(self, key: str, *, nullable: bool = False) -> _Fields | None:
        value = self._get(key, optional=nullable)
        if value is None and nullable:
            return None
        return _Fields(value, self.name(key))

    def done(self) -> None:
        """Refuse unknown keys: a misspelt optional field would otherwise vanish silently."""
        extra = sorted(str(k) for k in self.data if k not in self.seen)
        if extra:
            raise SpecError("is not a known field", field=self.name(extra[0]))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class ProductionRef:
    id: str
    title: str


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    version: str
    licence: str
    weights_sha256: str
    training_data: str
    evidence: str
    stores_inputs: bool
    trains_on_inputs: bool
    runs_in_production_env: bool
    trained_model: bool

    @classmethod
    def read(cls, f: _Fields) -> ModelInfo:
        model = cls(
            id=f.required_text("id"), name=f.required_text("name"),
            version=f.required_text("version"), licence=f.required_text("licence"),
            weights_sha256=f.required_text("weights_sha256"),
            training_data=f.choice("training_data", TRAINING_DATA),
            evidence=f.text("evidence", nullable=True, empty_ok=True) or "",
            stores_inputs=f.flag("stores_inputs"), trains_on_inputs=f.flag("trains_on_inputs"),
            runs_in_production_env=f.flag("runs_in_production_env"),
            trained_model=f.flag("trained_model"),
        )
        if not re.fullmatch(r"[0-9a-fA-F]{64}", model.weights_sha256):
            raise SpecError("must be 64 hex digits", field=f.name("weights_sha256"))
        f.done()
        return model

    @property
    def concerns(self) -> list[str]:
        """What a reviewer should look at (Netflix principle 2: no storing/training on inputs)."""
        out = []
        if self.training_data == "unknown":
            out.append("training data provenance unknown")
        if self.stores_inputs:
            out.append("stores production inputs")
        if self.trains_on_inputs:
            out.append("trains on production inputs")
        if not self.runs_in_production_env:
            out.append("runs outside the production environment")
        return out


@dataclass(frozen=True)
class RuleReason:
    rule_id: str
    text: str
    outcome: str


@dataclass(frozen=True)
class DecisionInfo:
    outcome: str
    reasons: tuple[RuleReason, ...]
    approver_roles: tuple[str, ...]
    duties: tuple[str, ...]

    @classmethod
    def read(cls, f: _Fields) -> DecisionInfo:
        outcome = f.choice("outcome", OUTCOMES)
        reasons = []
        for item, path in f.items("reasons"):
            r = _Fields(item, path)
            reasons.append(RuleReason(r.required_text("rule_id"), r.required_text("text"),
                                      r.choice("outcome", OUTCOMES)))
            r.done()
        decision = cls(outcome, tuple(reasons), f.texts("approver_roles"), f.texts("duties"))
        f.done()
        return decision


@dataclass(frozen=True)
class ApprovalInfo:
    role: str
    person: str
    verdict: str
    note: str
    at: str

    @classmethod
    def read(cls, f: _Fields) -> ApprovalInfo:
        approval = cls(role=f.required_text("role"), person=f.required_text("person"),
                       verdict=f.choice("verdict", VERDICTS),
                       note=f.text("note", nullable=True, empty_ok=True) or "",
                       at=f.timestamp("at") or "")
        f.done()
        return approval


@dataclass(frozen=True)
class ConsentInfo:
    consent_id: str
    performer: str
    kind: str
    description: str
    valid_until: str | None
    status: str
    performer_id: str | None = None

    @classmethod
    def read(cls, f: _Fields, *, performer_id_required: bool) -> ConsentInfo:
        consent = cls(
            consent_id=f.required_text("consent_id"), performer=f.required_text("performer"),
            kind=f.required_text("kind"), description=f.required_text("description", empty_ok=True),
            valid_until=f.timestamp("valid_until", nullable=True),
            status=f.choice("status", CONSENT_STATUSES),
            performer_id=(f.required_text("performer_id") if performer_id_required
                          else f.text("performer_id", nullable=True)),
        )
        f.done()
        return consent


@dataclass(frozen=True)
class WatermarkRef:
    engine: str
    payload_hex: str


@dataclass(frozen=True)
class C2paRef:
    manifest_label: str
    digital_source_type: str


@dataclass(frozen=True)
class AssetInfo:
    id: str
    name: str
    media_type: str
    watermark: WatermarkRef | None
    c2pa: C2paRef | None
    status: str

    @classmethod
    def read(cls, f: _Fields) -> AssetInfo:
        asset_id = f.required_text("id")
        if not _HEX16.fullmatch(asset_id):
            raise SpecError(f"{asset_id!r} is not 16 lowercase hex digits", field=f.name("id"))
        watermark = None
        w = f.sub("watermark", nullable=True)
        if w is not None:
            watermark = WatermarkRef(w.required_text("engine"), w.required_text("payload_hex"))
            if not _HEX.fullmatch(watermark.payload_hex):
                raise SpecError("must be an even number of hex digits", field=w.name("payload_hex"))
            w.done()
        c2pa = None
        c = f.sub("c2pa", nullable=True)
        if c is not None:
            c2pa = C2paRef(c.required_text("manifest_label"), c.required_text("digital_source_type"))
            c.done()
        asset = cls(asset_id, f.required_text("name"), f.required_text("media_type"), watermark, c2pa,
                    f.choice("status", ASSET_STATUSES))
        f.done()
        return asset

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class GenAIUse:
    job_id: str
    operation: str
    scene: str | None
    shot: str | None
    deliverable: str
    requested_by: str
    created_at: str
    model: ModelInfo
    decision: DecisionInfo
    approvals: tuple[ApprovalInfo, ...]
    consents: tuple[ConsentInfo, ...]
    assets: tuple[AssetInfo, ...]

    @classmethod
    def read(cls, f: _Fields) -> GenAIUse:
        use = cls(
            job_id=f.required_text("job_id"), operation=f.required_text("operation"),
            scene=f.text("scene", nullable=True), shot=f.text("shot", nullable=True),
            deliverable=f.choice("deliverable", DELIVERABLES),
            requested_by=f.required_text("requested_by"), created_at=f.timestamp("created_at") or "",
            model=ModelInfo.read(f.sub("model")),  # type: ignore[arg-type]
            decision=DecisionInfo.read(f.sub("decision")),  # type: ignore[arg-type]
            approvals=tuple(ApprovalInfo.read(_Fields(i, p)) for i, p in f.items("approvals")),
            consents=tuple(ConsentInfo.read(_Fields(i, p), performer_id_required=False)
                           for i, p in f.items("consents")),
            assets=tuple(AssetInfo.read(_Fields(i, p)) for i, p in f.items("assets")),
        )
        f.done()
        return use

    @property
    def scene_key(self) -> str:
        return self.scene if self.scene is not None else NO_SCENE

    @property
    def active_assets(self) -> tuple[AssetInfo, ...]:
        return tuple(a for a in self.assets if a.active)

    @property
    def in_programme(self) -> bool:
        """Whether viewers will see or hear this use: final, with at least one asset still in use."""
        return self.deliverable == "final" and bool(self.active_assets)


@dataclass(frozen=True)
class QuarantinedAsset:
    asset_id: str
    name: str
    scene: str | None
    shot: str | None
    consent_id: str | None
    revoked_at: str | None
    reason: str

    @classmethod
    def read(cls, f: _Fields) -> QuarantinedAsset:
        item = cls(asset_id=f.required_text("asset_id"), name=f.required_text("name"),
                   scene=f.text("scene", nullable=True), shot=f.text("shot", nullable=True),
                   consent_id=f.text("consent_id", nullable=True),
                   revoked_at=f.timestamp("revoked_at", nullable=True),
                   reason=f.required_text("reason"))
        if not _HEX16.fullmatch(item.asset_id):
            raise SpecError(f"{item.asset_id!r} is not 16 lowercase hex digits", field=f.name("asset_id"))
        f.done()
        return item


@dataclass(frozen=True)
class PerformerDepicted:
    performer: str
    operations: tuple[str, ...]


@dataclass(frozen=True)
class DisclosureData:
    """A validated ``Disclosure.1`` document; build it with `from_dict`."""

    production: ProductionRef
    episode: str | None
    generated_at: str
    uses: tuple[GenAIUse, ...]
    models: tuple[ModelInfo, ...]
    consents: tuple[ConsentInfo, ...]
    quarantined: tuple[QuarantinedAsset, ...]
    performers_depicted: tuple[PerformerDepicted, ...]
    source: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> DisclosureData:
        """Validate the service layer's dict; `SpecError` names the first bad field."""
        f = _Fields(data, "")
        schema = f.required_text("schema")
        if schema != SCHEMA:
            raise SpecError(f"{schema!r} is not supported (expected {SCHEMA!r})", field="schema")
        p = f.sub("production")
        assert p is not None
        production = ProductionRef(p.required_text("id"), p.required_text("title"))
        p.done()
        s = f.sub("scope")
        assert s is not None
        episode = s.text("episode", nullable=True)
        s.done()
        generated_at = f.timestamp("generated_at") or ""
        uses = tuple(GenAIUse.read(_Fields(i, path)) for i, path in f.items("uses"))
        models = tuple(ModelInfo.read(_Fields(i, path)) for i, path in f.items("models"))
        consents = tuple(ConsentInfo.read(_Fields(i, path), performer_id_required=True)
                         for i, path in f.items("consents"))
        quarantined = tuple(QuarantinedAsset.read(_Fields(i, path)) for i, path in f.items("quarantined"))
        depicted = []
        for item, path in f.items("performers_depicted"):
            d = _Fields(item, path)
            depicted.append(PerformerDepicted(d.required_text("performer"), d.texts("operations")))
            d.done()
        f.done()
        doc = cls(production, episode, generated_at, uses, models, consents, quarantined,
                  tuple(depicted), source=json.loads(json.dumps(data)))
        doc._check_consistency()
        return doc

    def _check_consistency(self) -> None:
        """Cross-references the ledger export must honour, or the report would contradict itself."""
        seen_jobs: set[str] = set()
        for i, use in enumerate(self.uses):
            if use.job_id in seen_jobs:
                raise SpecError(f"job {use.job_id!r} appears twice", field=f"uses[{i}].job_id")
            seen_jobs.add(use.job_id)
        model_ids = {m.id for m in self.models}
        for i, use in enumerate(self.uses):
            if use.model.id not in model_ids:
                raise SpecError(f"model {use.model.id!r} is not listed in 'models'",
                                field=f"uses[{i}].model.id")
        seen_models: set[str] = set()
        for i, model in enumerate(self.models):
            if model.id in seen_models:
                raise SpecError(f"model {model.id!r} appears twice", field=f"models[{i}].id")
            seen_models.add(model.id)
        listed_consents = {c.consent_id for c in self.consents}
        for i, use in enumerate(self.uses):
            for j, consent in enumerate(use.consents):
                if consent.consent_id not in listed_consents:
                    raise SpecError(f"consent {consent.consent_id!r} is not listed in 'consents'",
                                    field=f"uses[{i}].consents[{j}].consent_id")

    def to_dict(self) -> dict[str, Any]:
        """The document as given (validated), JSON-able."""
        return json.loads(json.dumps(self.source))

    @property
    def subject(self) -> str:
        """How the notice refers to the work: a per-episode report speaks of 'this episode'."""
        return "episode" if self.episode is not None else "programme"


def _as_data(data: Mapping[str, Any] | DisclosureData) -> DisclosureData:
    return data if isinstance(data, DisclosureData) else DisclosureData.from_dict(data)


# --------------------------------------------------------------------------- summary


def _natural_key(text: str) -> tuple:
    """Scene '2' before '10', '12A' after '12'; the no-scene bucket last."""
    if text == NO_SCENE:
        return (1, ())
    parts = re.split(r"(\d+)", text)
    return (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p))


@dataclass(frozen=True)
class SceneSeries:
    """Uses (jobs) per scene, split by operation: the data behind the stacked bar chart."""

    scenes: tuple[str, ...]
    operations: tuple[str, ...]
    counts: dict[str, dict[str, int]]

    def total(self, scene: str) -> int:
        return sum(self.counts.get(scene, {}).values())

    @property
    def max_total(self) -> int:
        return max((self.total(s) for s in self.scenes), default=0)

    def colour(self, operation: str) -> str:
        return _PALETTE[self.operations.index(operation) % len(_PALETTE)]


def scene_series(data: Mapping[str, Any] | DisclosureData) -> SceneSeries:
    doc = _as_data(data)
    counts: dict[str, dict[str, int]] = {}
    for use in doc.uses:
        per_op = counts.setdefault(use.scene_key, {})
        per_op[use.operation] = per_op.get(use.operation, 0) + 1
    scenes = tuple(sorted(counts, key=_natural_key))
    operations = tuple(sorted({u.operation for u in doc.uses}))
    return SceneSeries(scenes, operations, counts)


@dataclass(frozen=True)
class ChartBar:
    """One stacked segment, in a y-up box (origin bottom-left of the plot area)."""

    scene: str
    operation: str
    count: int
    x: float
    y: float
    width: float
    height: float


def chart_bars(series: SceneSeries, plot_width: float, plot_height: float) -> list[ChartBar]:
    """Lay out the stacked bars once, so the SVG and the PDF chart cannot disagree."""
    if not series.scenes or series.max_total == 0:
        return []
    slot = plot_width / len(series.scenes)
    bar_width = slot * 0.7
    unit = plot_height / series.max_total
    bars = []
    for index, scene in enumerate(series.scenes):
        x = index * slot + (slot - bar_width) / 2
        y = 0.0
        for operation in series.operations:
            count = series.counts[scene].get(operation, 0)
            if count:
                bars.append(ChartBar(scene, operation, count, x, y, bar_width, count * unit))
                y += count * unit
    return bars


def _counter(values: Iterable[str], keys: Sequence[str] = ()) -> dict[str, int]:
    out = {k: 0 for k in keys}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def summarize(data: Mapping[str, Any] | DisclosureData) -> dict[str, Any]:
    """The computed numbers every format shows (and JSON carries for machines)."""
    doc = _as_data(data)
    series = scene_series(doc)
    active = [a for u in doc.uses for a in u.active_assets]
    approvals = [a for u in doc.uses for a in u.approvals]
    by_training: dict[str, list[str]] = {k: [] for k in TRAINING_DATA}
    for model in doc.models:
        by_training[model.training_data].append(model.id)
    relied_on = sorted({c.consent_id for u in doc.uses for c in u.consents})
    return {
        "genai_used": bool(doc.uses),
        "uses": len(doc.uses),
        "assets": sum(len(u.assets) for u in doc.uses),
        "active_assets": len(active),
        "by_operation": _counter(u.operation for u in doc.uses),
        "by_scene": {s: dict(sorted(series.counts[s].items())) for s in series.scenes},
        "by_deliverable": _counter((u.deliverable for u in doc.uses), DELIVERABLES),
        "by_decision": _counter((u.decision.outcome for u in doc.uses), OUTCOMES),
        "models": len(doc.models),
        "models_by_training_data": by_training,
        "models_with_concerns": {m.id: m.concerns for m in doc.models if m.concerns},
        "consents_relied_on": len(relied_on),
        "consent_ids_relied_on": relied_on,
        "consents_listed": len(doc.consents),
        "approvals": len(approvals),
        "approvals_by_verdict": _counter((a.verdict for a in approvals), VERDICTS),
        "quarantined": len(doc.quarantined),
        "performers_depicted": len(doc.performers_depicted),
        "marking": {
            "active_assets": len(active),
            "with_c2pa": sum(1 for a in active if a.c2pa is not None),
            "with_watermark": sum(1 for a in active if a.watermark is not None),
            "not_fully_marked": [a.id for a in active if a.c2pa is None or a.watermark is None],
        },
    }


# --------------------------------------------------------------------------- notices


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def credits_notice(data: Mapping[str, Any] | DisclosureData) -> str:
    """The Art. 50(4) notice for an artistic work, for the end credits or programme note.

    Built only from what viewers will actually see or hear (final deliverables with assets still
    in use); "with their consent" is claimed only if every such likeness use has a recorded,
    unrevoked consent. Empty string when nothing needs disclosing.
    """
    doc = _as_data(data)
    shown = [u for u in doc.uses if u.in_programme]
    subject = doc.subject

    def consented(uses: list[GenAIUse]) -> str:
        ok = all(any(c.status != "revoked" for c in u.consents) for u in uses)
        return ", with their consent" if ok else ""

    sentences = []
    altered = [u for u in shown if u.operation in _ALTERATION]
    if altered:
        ops = {u.operation for u in altered}
        what = "appearance or performance" if "performance_alteration" in ops else "appearance"
        deage = " (including de-ageing)" if "likeness_deage" in ops else ""
        sentences.append(f"This {subject} contains scenes in which performers' {what} was digitally "
                         f"altered{deage} using artificial intelligence{consented(altered)}.")
    replicas = [u for u in shown if u.operation in _REPLICA_VISUAL]
    if replicas:
        sentences.append(f"This {subject} contains digital replicas of performers created using "
                         f"artificial intelligence{consented(replicas)}.")
    voices = [u for u in shown if u.operation in _VOICE]
    if voices:
        sentences.append(f"Some performers' voices in this {subject} were generated using artificial "
                         f"intelligence{consented(voices)}.")
    other = [u for u in shown if u.operation not in _LIKENESS | _NON_CONTENT_OPERATIONS]
    if other:
        kinds = _join(sorted({operation_label(u.operation).lower() for u in other}))
        sentences.append(f"Some images in this {subject} ({kinds}) were generated or modified "
                         f"using artificial intelligence.")
    return " ".join(sentences)


def marking_statement(data: Mapping[str, Any] | DisclosureData) -> str:
    """The Art. 50(2) statement, true to the data: it says 'all' only when all are marked."""
    doc = _as_data(data)
    marking = summarize(doc)["marking"]
    total = marking["active_assets"]
    if total == 0:
        return "No generated or manipulated outputs are in use, so there is nothing to mark."
    if not marking["not_fully_marked"]:
        noun = "output carries" if total == 1 else f"{total} outputs carry"
        return (f"All {noun} C2PA Content Credentials identifying them as AI-generated or "
                f"AI-edited (IPTC digital source type) and an invisible watermark, so they are "
                f"marked in a machine-readable, detectable way (EU AI Act Art. 50(2)).")
    return (f"Of {total} outputs in use, {marking['with_c2pa']} carry C2PA Content Credentials and "
            f"{marking['with_watermark']} carry an invisible watermark. NOT FULLY MARKED: "
            f"{', '.join(marking['not_fully_marked'])} - mark these before delivery "
            f"(EU AI Act Art. 50(2)).")


def _title_line(doc: DisclosureData) -> str:
    scope = f" - episode {doc.episode}" if doc.episode is not None else ""
    return f"GenAI disclosure: {doc.production.title}{scope}"


# --------------------------------------------------------------------------- writing


def _write_atomic(path: Path, payload: bytes) -> None:
    """Temp file in the same folder, then os.replace: readers never see half a report."""
    from soundstage.files import atomic_write_bytes

    atomic_write_bytes(path, payload, make_parents=False)


def render_json(data: Mapping[str, Any] | DisclosureData, path: Path) -> Path:
    doc = _as_data(data)
    payload = doc.to_dict()
    summary = summarize(doc)
    summary["credits_notice"] = credits_notice(doc)
    summary["marking_statement"] = marking_statement(doc)
    payload["summary"] = summary
    _write_atomic(Path(path), (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return Path(path)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1a1a1a;
 margin:2rem auto;max-width:1100px;padding:0 1rem;line-height:1.4;font-size:14px}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:2px solid #ddd;
 padding-bottom:.2rem;margin-top:2rem}.meta{color:#555}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{border:1px solid #ccc;padding:4px 6px;
 vertical-align:top;text-align:left;overflow-wrap:anywhere}th{background:#f2f2f2}
tr{page-break-inside:avoid}.flag{color:#b00020;font-weight:600}.ok{color:#1b6e20}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}.card{border:1px solid #ccc;border-radius:4px;
 padding:.4rem .7rem;min-width:9rem}.card b{display:block;font-size:1.3rem}
.notice{border:2px solid #333;padding:.8rem 1rem;font-size:1rem;background:#fafafa}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.8rem}
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle;
 border:1px solid #333}code{font-size:11px}.chart{overflow-x:auto}
@media print{body{margin:0;max-width:none;font-size:11px}h2{page-break-after:avoid}
 .chart svg{max-width:100%}.notice{background:none}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _svg_chart(series: SceneSeries) -> str:
    """Stacked bar chart of uses per scene, drawn by hand; each segment carries its data."""
    n = len(series.scenes)
    slot = max(22.0, min(70.0, 760.0 / max(n, 1)))
    plot_w, plot_h = slot * n, 220.0
    left, top, bottom = 40.0, 12.0, 70.0
    width, height = left + plot_w + 10, top + plot_h + bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="scene-chart" role="img" '
           f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'data-unit="{plot_h / max(series.max_total, 1):.6f}">',
           '<title>GenAI uses per scene, stacked by operation</title>']
    max_total = max(series.max_total, 1)
    step = max(1, -(-max_total // 5))
    for tick in range(0, max_total + 1, step):
        y = top + plot_h - tick * plot_h / max_total
        out.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" '
                   f'stroke="#ddd" stroke-width="1"/>')
        out.append(f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{tick}</text>')
    for bar in chart_bars(series, plot_w, plot_h):
        x = left + bar.x
        y = top + plot_h - bar.y - bar.height
        out.append(
            f'<rect class="bar" x="{x:.2f}" y="{y:.2f}" width="{bar.width:.2f}" height="{bar.height:.4f}" '
            f'fill="{series.colour(bar.operation)}" data-scene="{_e(bar.scene)}" '
            f'data-operation="{_e(bar.operation)}" data-count="{bar.count}">'
            f'<title>Scene {_e(bar.scene)}: {bar.count} x {_e(operation_label(bar.operation))}</title></rect>')
    for index, scene in enumerate(series.scenes):
        cx = left + (index + 0.5) * slot
        label = scene if len(scene) <= 14 else scene[:13] + "\u2026"
        ly = top + plot_h + 14
        out.append(f'<text x="{cx:.1f}" y="{ly:.1f}" font-size="11" text-anchor="end" '
                   f'transform="rotate(-40 {cx:.1f} {ly:.1f})">{_e(label)}</text>')
    out.append(f'<line x1="{left:.1f}" y1="{top + plot_h:.1f}" x2="{left + plot_w:.1f}" '
               f'y2="{top + plot_h:.1f}" stroke="#333" stroke-width="1"/>')
    out.append("</svg>")
    return "".join(out)


def _cell_lines(lines: Iterable[str]) -> str:
    return "<br>".join(_e(x) for x in lines) or "&mdash;"


def _use_rows(doc: DisclosureData) -> list[str]:
    rows = []
    for use in doc.uses:
        model = use.model
        attestation = _TRAINING_LABELS[model.training_data]
        model_cell = (f"{_e(model.name)} {_e(model.version)}<br><span class=\""
                      f"{'flag' if model.training_data == 'unknown' else 'ok'}\">training data: "
                      f"{_e(attestation)}</span>")
        rules = ", ".join(r.rule_id for r in use.decision.reasons)
        decision_cell = f"<b>{_e(use.decision.outcome)}</b>" + (f"<br><code>{_e(rules)}</code>" if rules else "")
        approvals = [f"{a.verdict}: {a.person} ({a.role})" for a in use.approvals]
        consents = [f"{c.consent_id} - {c.performer} [{c.status}]" for c in use.consents]
        marks = []
        for asset in use.assets:
            wm = f"wm {asset.watermark.engine}:{asset.watermark.payload_hex}" if asset.watermark else "NO WATERMARK"
            cr = f"C2PA {asset.c2pa.manifest_label}" if asset.c2pa else "NO C2PA"
            status = "" if asset.active else " [QUARANTINED]"
            marks.append(f"{asset.id} {asset.name}{status}: {wm}; {cr}")
        where = " / ".join(x for x in (use.scene, use.shot) if x) or "\u2014"
        rows.append(
            "<tr>"
            f"<td>{_e(operation_label(use.operation))}<br><code>{_e(use.job_id)}</code></td>"
            f"<td>{_e(where)}</td><td>{_e(use.deliverable)}</td><td>{model_cell}</td>"
            f"<td>{decision_cell}</td><td>{_cell_lines(approvals)}</td><td>{_cell_lines(consents)}</td>"
            f"<td>{_cell_lines(marks)}</td></tr>")
    return rows


def html_document(data: Mapping[str, Any] | DisclosureData) -> str:
    """The whole report as one self-contained HTML string (inline CSS and SVG, no scripts)."""
    doc = _as_data(data)
    summary = summarize(doc)
    series = scene_series(doc)
    notice = credits_notice(doc)
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(_title_line(doc))}</title><style>{_CSS}</style></head><body>",
             f"<h1>{_e(_title_line(doc))}</h1>",
             f'<p class="meta">Production <code>{_e(doc.production.id)}</code>'
             + (f" &middot; episode {_e(doc.episode)}" if doc.episode is not None else " &middot; whole production")
             + f" &middot; generated {_e(doc.generated_at)}</p>"]

    parts.append('<section id="summary"><h2>Summary</h2>')
    if not doc.uses:
        parts.append('<p class="ok"><b>No generative AI use was recorded for this scope.</b></p>')
    cards = [("GenAI uses", summary["uses"]), ("Final deliverables", summary["by_deliverable"]["final"]),
             ("Temporary", summary["by_deliverable"]["temporary"]), ("Assets in use", summary["active_assets"]),
             ("Models", summary["models"]), ("Consents relied on", summary["consents_relied_on"]),
             ("Approvals", summary["approvals"]), ("Quarantined", summary["quarantined"])]
    parts.append('<div class="cards">' + "".join(
        f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in cards) + "</div>")
    if summary["by_operation"]:
        parts.append("<p>By operation: " + _e(", ".join(
            f"{operation_label(k)} {v}" for k, v in sorted(summary["by_operation"].items()))) + "</p>")
    parts.append("<p>Decisions: " + _e(", ".join(f"{k} {v}" for k, v in summary["by_decision"].items())) + "</p>")
    parts.append("</section>")

    parts.append('<section id="chart"><h2>GenAI use by scene</h2>')
    if series.scenes:
        parts.append(f'<div class="chart">{_svg_chart(series)}</div><ul class="legend">')
        parts.extend(f'<li><span class="swatch" style="background:{series.colour(op)}"></span>'
                     f"{_e(operation_label(op))}</li>" for op in series.operations)
        parts.append("</ul>")
    else:
        parts.append("<p>No generative AI use to chart.</p>")
    parts.append("</section>")

    parts.append('<section id="uses"><h2>Uses</h2>')
    if doc.uses:
        parts.append("<table><thead><tr><th>Operation / job</th><th>Scene / shot</th><th>Deliverable</th>"
                     "<th>Model &amp; attestation</th><th>Decision &amp; rules</th><th>Approvals</th>"
                     "<th>Consents</th><th>Assets: watermark &amp; C2PA</th></tr></thead><tbody>")
        parts.extend(_use_rows(doc))
        parts.append("</tbody></table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("</section>")

    parts.append('<section id="models"><h2>Models and training-data attestations</h2>')
    if doc.models:
        parts.append("<table><thead><tr><th>Model</th><th>Licence</th><th>Training data</th><th>Evidence</th>"
                     "<th>Weights SHA-256</th><th>Concerns</th></tr></thead><tbody>")
        for m in doc.models:
            cls = "flag" if m.training_data == "unknown" else "ok"
            parts.append(f"<tr><td>{_e(m.name)} {_e(m.version)}<br><code>{_e(m.id)}</code></td>"
                         f"<td>{_e(m.licence)}</td><td class=\"{cls}\">{_e(_TRAINING_LABELS[m.training_data])}</td>"
                         f"<td>{_e(m.evidence) or '&mdash;'}</td><td><code>{_e(m.weights_sha256)}</code></td>"
                         f"<td class=\"flag\">{_cell_lines(m.concerns)}</td></tr>")
        parts.append("</tbody></table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("</section>")

    parts.append('<section id="consents"><h2>Consents relied on</h2>')
    if doc.consents:
        parts.append("<table><thead><tr><th>Consent</th><th>Performer</th><th>Kind</th><th>Description</th>"
                     "<th>Valid until</th><th>Status</th></tr></thead><tbody>")
        for c in doc.consents:
            cls = "ok" if c.status == "active" else "flag"
            parts.append(f"<tr><td><code>{_e(c.consent_id)}</code></td><td>{_e(c.performer)}"
                         f"<br><code>{_e(c.performer_id or '')}</code></td><td>{_e(c.kind)}</td>"
                         f"<td>{_e(c.description)}</td><td>{_e(c.valid_until or 'no expiry')}</td>"
                         f"<td class=\"{cls}\">{_e(c.status)}</td></tr>")
        parts.append("</tbody></table>")
    else:
        parts.append("<p>None.</p>")
    if doc.performers_depicted:
        parts.append("<p>Real people whose likeness was generated or altered (deep fakes, EU AI Act "
                     "Art. 3(60)):</p><ul>")
        parts.extend(f"<li>{_e(p.performer)}: {_e(', '.join(operation_label(o) for o in p.operations))}</li>"
                     for p in doc.performers_depicted)
        parts.append("</ul>")
    parts.append("</section>")

    parts.append('<section id="quarantined"><h2>Quarantined assets</h2>')
    if doc.quarantined:
        parts.append("<table><thead><tr><th>Asset</th><th>Scene / shot</th><th>Consent</th>"
                     "<th>Revoked at</th><th>Reason</th></tr></thead><tbody>")
        for q in doc.quarantined:
            where = " / ".join(x for x in (q.scene, q.shot) if x) or "\u2014"
            parts.append(f"<tr><td><code>{_e(q.asset_id)}</code> {_e(q.name)}</td><td>{_e(where)}</td>"
                         f"<td>{_e(q.consent_id or '')}</td><td>{_e(q.revoked_at or '')}</td>"
                         f"<td>{_e(q.reason)}</td></tr>")
        parts.append("</tbody></table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("</section>")

    parts.append('<section id="notices"><h2>Audience notice (EU AI Act Art. 50(4))</h2>')
    if notice:
        parts.append("<p>For the end credits or programme note:</p>"
                     f'<blockquote class="notice" id="credits-notice">{_e(notice)}</blockquote>')
    else:
        parts.append('<p id="credits-notice">No notice needed: no AI-generated or AI-altered material '
                     "appears in the final deliverables.</p>")
    parts.append(f'<h2>Machine-readable marking (Art. 50(2))</h2><p id="marking">{_e(marking_statement(doc))}</p>')
    parts.append("</section></body></html>\n")
    return "".join(parts)


def render_html(data: Mapping[str, Any] | DisclosureData, path: Path) -> Path:
    _write_atomic(Path(path), html_document(data).encode("utf-8"))
    return Path(path)


# --------------------------------------------------------------------------- PDF

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def _pdf_fonts(texts: Iterable[str]) -> tuple[str, str]:
    """Built-in Helvetica when everything fits WinAnsi (text stays searchable); DejaVu otherwise."""
    needs_unicode = False
    for text in texts:
        try:
            text.encode("cp1252")
        except UnicodeEncodeError:
            needs_unicode = True
            break
    regular, bold = _DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"
    if needs_unicode and regular.is_file() and bold.is_file():
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        if "SS-DejaVu" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("SS-DejaVu", str(regular)))
            pdfmetrics.registerFont(TTFont("SS-DejaVu-Bold", str(bold)))
        return "SS-DejaVu", "SS-DejaVu-Bold"
    return "Helvetica", "Helvetica-Bold"


def _all_strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _all_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _all_strings(v)


def _pdf_chart(series: SceneSeries, width: float, font: str) -> Any:
    from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
    from reportlab.lib import colors

    left, bottom, top = 30.0, 55.0, 8.0
    plot_w, plot_h = width - left - 10, 150.0
    legend_rows = -(-len(series.operations) // 4)
    legend_h = 14.0 * legend_rows + 6
    drawing = Drawing(width, bottom + plot_h + top + legend_h)
    base_y = bottom + legend_h
    max_total = max(series.max_total, 1)
    step = max(1, -(-max_total // 5))
    for tick in range(0, max_total + 1, step):
        y = base_y + tick * plot_h / max_total
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=colors.HexColor("#dddddd"), strokeWidth=0.5))
        drawing.add(String(left - 4, y - 3, str(tick), fontName=font, fontSize=7, textAnchor="end"))
    for bar in chart_bars(series, plot_w, plot_h):
        drawing.add(Rect(left + bar.x, base_y + bar.y, bar.width, bar.height, strokeWidth=0.3,
                         strokeColor=colors.white, fillColor=colors.HexColor(series.colour(bar.operation))))
    slot = plot_w / max(len(series.scenes), 1)
    every = max(1, -(-9 // max(int(slot), 1)))  # thin the labels so they never overlap
    for index, scene in enumerate(series.scenes):
        if index % every:
            continue
        label = scene if len(scene) <= 14 else scene[:13] + "\u2026"
        label_string = String(0, 0, label, fontName=font, fontSize=7, textAnchor="end")
        group = Group(label_string)
        group.translate(left + (index + 0.5) * slot, base_y - 6)
        group.rotate(40)
        drawing.add(group)
    drawing.add(Line(left, base_y, left + plot_w, base_y, strokeColor=colors.black, strokeWidth=0.7))
    for i, operation in enumerate(series.operations):
        x = left + (i % 4) * (plot_w / 4)
        y = legend_h - 14.0 * (i // 4 + 1)
        drawing.add(Rect(x, y, 8, 8, fillColor=colors.HexColor(series.colour(operation)), strokeWidth=0.3))
        drawing.add(String(x + 12, y + 1, operation_label(operation), fontName=font, fontSize=8))
    return drawing


PDF_ASSETS_PER_USE = 4


def render_pdf(data: Mapping[str, Any] | DisclosureData, path: Path) -> Path:
    """Same content as the HTML; uncompressed and invariant so it is reproducible and searchable."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    doc = _as_data(data)
    path = Path(path)
    summary = summarize(doc)
    series = scene_series(doc)
    notice = credits_notice(doc)
    title = _title_line(doc)
    font, bold = _pdf_fonts(_all_strings(doc.source))

    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=11.5, alignment=TA_LEFT)
    cell = ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9)
    head = ParagraphStyle("head", parent=cell, fontName=bold)
    h1 = ParagraphStyle("h1", parent=body, fontName=bold, fontSize=16, leading=20, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4)
    boxed = ParagraphStyle("boxed", parent=body, fontSize=11, leading=14, borderColor=colors.black,
                           borderWidth=1, borderPadding=6, spaceBefore=6, spaceAfter=10)

    def p(text: Any, style: ParagraphStyle = body) -> Any:
        return Paragraph(xml_escape(str(text)), style)

    def lines(items: Iterable[str]) -> Any:
        return Paragraph("<br/>".join(xml_escape(x) for x in items) or "-", cell)

    page_w, _ = landscape(A4)
    frame_w = page_w - 30 * mm

    def table(header: Sequence[str], rows: list[list[Any]], widths: Sequence[float]) -> Any:
        scale = frame_w / sum(widths)
        t = Table([[Paragraph(xml_escape(h), head) for h in header]] + rows,
                  colWidths=[w * scale for w in widths], repeatRows=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return t

    story: list[Any] = [p(title, h1)]
    scope = f"episode {doc.episode}" if doc.episode is not None else "whole production"
    story.append(p(f"Production {doc.production.id} - {scope} - generated {doc.generated_at}"))

    story.append(p("Summary", h2))
    if not doc.uses:
        story.append(p("No generative AI use was recorded for this scope.", ParagraphStyle("b", parent=body, fontName=bold)))
    facts = [("GenAI uses", summary["uses"]), ("Final deliverables", summary["by_deliverable"]["final"]),
             ("Temporary", summary["by_deliverable"]["temporary"]), ("Assets in use", summary["active_assets"]),
             ("Models", summary["models"]), ("Consents relied on", summary["consents_relied_on"]),
             ("Approvals", summary["approvals"]), ("Quarantined", summary["quarantined"])]
    story.append(table([k for k, _ in facts], [[p(v, cell) for _, v in facts]], [1] * len(facts)))
    if summary["by_operation"]:
        story.append(Spacer(1, 4))
        story.append(p("By operation: " + ", ".join(
            f"{operation_label(k)} {v}" for k, v in sorted(summary["by_operation"].items()))))
    story.append(p("Decisions: " + ", ".join(f"{k} {v}" for k, v in summary["by_decision"].items())))

    story.append(p("GenAI use by scene", h2))
    if series.scenes:
        story.append(_pdf_chart(series, frame_w, font))
    else:
        story.append(p("No generative AI use to chart."))

    story.append(p("Uses", h2))
    if doc.uses:
        rows = []
        for use in doc.uses:
            m = use.model
            rules = ", ".join(r.rule_id for r in use.decision.reasons)
            marks = []
            for a in use.assets[:PDF_ASSETS_PER_USE]:
                wm = f"wm {a.watermark.engine}:{a.watermark.payload_hex}" if a.watermark else "NO WATERMARK"
                cr = f"C2PA {a.c2pa.manifest_label}" if a.c2pa else "NO C2PA"
                marks.append(f"{a.id} {a.name}{'' if a.active else ' [QUARANTINED]'}: {wm}; {cr}")
            if len(use.assets) > PDF_ASSETS_PER_USE:  # a table row must fit on a page; JSON/HTML list them all
                marks.append(f"... and {len(use.assets) - PDF_ASSETS_PER_USE} more (listed in the JSON and HTML "
                             "reports)")
            rows.append([
                lines([operation_label(use.operation), use.job_id]),
                p(" / ".join(x for x in (use.scene, use.shot) if x) or "-", cell),
                p(use.deliverable, cell),
                lines([f"{m.name} {m.version}", f"training data: {_TRAINING_LABELS[m.training_data]}"]),
                lines([use.decision.outcome] + ([rules] if rules else [])),
                lines(f"{a.verdict}: {a.person} ({a.role})" for a in use.approvals),
                lines(f"{c.consent_id} - {c.performer} [{c.status}]" for c in use.consents),
                lines(marks),
            ])
        story.append(table(["Operation / job", "Scene / shot", "Deliverable", "Model & attestation",
                            "Decision & rules", "Approvals", "Consents", "Assets: watermark & C2PA"],
                           rows, [11, 7, 7, 12, 11, 13, 13, 26]))
    else:
        story.append(p("None."))

    story.append(p("Models and training-data attestations", h2))
    if doc.models:
        story.append(table(["Model", "Licence", "Training data", "Evidence", "Weights SHA-256", "Concerns"],
                           [[lines([f"{m.name} {m.version}", m.id]), p(m.licence, cell),
                             p(_TRAINING_LABELS[m.training_data], cell), p(m.evidence or "-", cell),
                             p(m.weights_sha256, cell), lines(m.concerns)] for m in doc.models],
                           [14, 10, 9, 25, 24, 18]))
    else:
        story.append(p("None."))

    story.append(p("Consents relied on", h2))
    if doc.consents:
        story.append(table(["Consent", "Performer", "Kind", "Description", "Valid until", "Status"],
                           [[p(c.consent_id, cell), lines([c.performer, c.performer_id or ""]), p(c.kind, cell),
                             p(c.description, cell), p(c.valid_until or "no expiry", cell), p(c.status, cell)]
                            for c in doc.consents],
                           [12, 14, 14, 38, 12, 10]))
    else:
        story.append(p("None."))
    if doc.performers_depicted:
        story.append(Spacer(1, 4))
        story.append(p("Real people whose likeness was generated or altered (deep fakes, EU AI Act Art. 3(60)): "
                       + "; ".join(f"{d.performer} ({', '.join(operation_label(o) for o in d.operations)})"
                                   for d in doc.performers_depicted)))

    story.append(p("Quarantined assets", h2))
    if doc.quarantined:
        story.append(table(["Asset", "Scene / shot", "Consent", "Revoked at", "Reason"],
                           [[lines([q.asset_id, q.name]), p(" / ".join(x for x in (q.scene, q.shot) if x) or "-", cell),
                             p(q.consent_id or "-", cell), p(q.revoked_at or "-", cell), p(q.reason, cell)]
                            for q in doc.quarantined],
                           [20, 10, 14, 16, 40]))
    else:
        story.append(p("None."))

    notice_block = [p("Audience notice (EU AI Act Art. 50(4))", h2)]
    if notice:
        notice_block += [p("For the end credits or programme note:"), p(notice, boxed)]
    else:
        notice_block.append(p("No notice needed: no AI-generated or AI-altered material appears in the "
                              "final deliverables."))
    notice_block += [p("Machine-readable marking (Art. 50(2))", h2), p(marking_statement(doc))]
    story.append(KeepTogether(notice_block))

    class NumberedCanvas(Canvas):
        """Holds pages back until the end so each footer can say 'page N of M'."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for state in self._held:
                self.__dict__.update(state)
                self.setFont(font, 7.5)
                self.setFillColor(colors.HexColor("#555555"))
                self.drawString(15 * mm, 8 * mm, title[:120])
                self.drawRightString(page_w - 15 * mm, 8 * mm, f"Page {self._pageNumber} of {total}")
                super().showPage()
            super().save()

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        template = SimpleDocTemplate(tmp, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                                     topMargin=14 * mm, bottomMargin=16 * mm, title=title,
                                     author="soundstage", creator="soundstage", invariant=1, pageCompression=0)
        template.build(story, canvasmaker=NumberedCanvas)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# --------------------------------------------------------------------------- entry point


def render_disclosure(data: Mapping[str, Any] | DisclosureData, out_dir: Path,
                      formats: Sequence[str] = FORMATS) -> list[Path]:
    """Validate once, write the chosen formats plus credits_notice.txt; returns the paths written."""
    doc = _as_data(data)
    if isinstance(formats, str):
        formats = (formats,)
    for i, fmt in enumerate(formats):
        if fmt not in FORMATS:
            raise SpecError(f"{fmt!r} is not one of {', '.join(FORMATS)}", field=f"formats[{i}]")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create report folder {out_dir}: {exc.strerror or exc}") from exc
    if not out_dir.is_dir():
        raise WorkspaceError(f"cannot write reports into {out_dir}: it is not a folder")
    writers = {"json": render_json, "html": render_html, "pdf": render_pdf}
    written = []
    for fmt in dict.fromkeys(formats):
        written.append(writers[fmt](doc, out_dir / f"disclosure.{fmt}"))
    notice_path = out_dir / "credits_notice.txt"
    notice = credits_notice(doc)
    _write_atomic(notice_path, (notice + "\n" if notice else "").encode("utf-8"))
    written.append(notice_path)
    return written
