"""The ``Disclosure.2`` document: strict validation into frozen dataclasses, and the labels every format shares.

Pure: no files, no rendering. `DisclosureData.from_dict` raises a `SpecError` naming the field on
any fault - a report built from a malformed ledger export must not look complete.
"""

from __future__ import annotations

import functools
import json
import re
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence, TypeVar

from soundstage.domain.safeguards import (
    DIGITAL_ALTERATION_OPERATIONS,
    LIKENESS_OPERATIONS,
    VOICE_OPERATIONS,
    OperationKind,
)
from soundstage.errors import SpecError

SCHEMA = "Disclosure.2"
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
_R = TypeVar("_R")

#: Operations that put no pixels or sound on screen by themselves (nothing to disclose to viewers).
_NON_CONTENT_OPERATIONS = frozenset({OperationKind.TRAINING.value})
_LIKENESS = frozenset(op.value for op in LIKENESS_OPERATIONS) - _NON_CONTENT_OPERATIONS
#: synthetic or altered speech in a performer's voice (issue 17): disclosed as voices, never as pictures
_VOICE = frozenset({OperationKind.VOICE_SYNTHESIS.value, *(op.value for op in VOICE_OPERATIONS)})
_ALTERATION = frozenset(op.value for op in DIGITAL_ALTERATION_OPERATIONS) - _VOICE
_REPLICA_VISUAL = frozenset({OperationKind.LIKENESS_REPLICA.value})

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
    "voice.adr": "ADR in a synthetic voice",
    "voice.dub": "Dub in a synthetic voice",
    "voice.synthetic_line": "Synthetic line",
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


def readable_time(value: str | None, *, empty: str = "") -> str:
    """An ISO-8601 timestamp as a person reads it: ``2026-12-06 14:03 UTC`` (minutes, always UTC).

    Naive times are taken as UTC (the ledger stores UTC); a date alone stays a date."""
    if not value:
        return empty
    parsed = datetime.fromisoformat(value)
    if len(value) <= 10:  # "2026-12-06": no time of day to show
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


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

    def whole(self, key: str) -> int:
        value = self._get(key, optional=False)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SpecError(f"must be a whole number >= 0, got {_kind(value)}", field=self.name(key))
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


# --------------------------------------------------------------------------- the typed reader
#
# Every record of the document is a frozen dataclass whose fields are named as its keys; `_read`
# reads one from its mapping by the fields' types (``str``, ``str | None``, ``bool``, ``int``,
# ``tuple[str, ...]``, a record, ``Record | None``, ``tuple[Record, ...]``), in the order they are
# declared, and refuses keys no field names. What the type cannot say (a closed set of values, a
# timestamp, an empty text allowed, a pattern) a field says with `_how`.


@dataclass(frozen=True)
class _How:
    """How `_read` reads one field beyond what its type says."""

    choices: tuple[str, ...] = ()  #: the value is one of these
    timestamp: bool = False  #: an ISO-8601 date/time
    empty_ok: bool = False  #: an empty (or blank) text is allowed
    absent_as_empty: bool = False  #: missing or null reads as "" (the field's type stays ``str``)
    pattern: str = ""  #: the whole value matches this regular expression ...
    mismatch: str = ""  #: ... or this error is raised (``{value!r}`` is filled in)


_PLAIN = _How()
_HEX16_ID = dict(pattern=_HEX16.pattern, mismatch="{value!r} is not 16 lowercase hex digits")


def _how(default: Any = MISSING, **how: Any) -> Any:
    """A dataclass field read as `_How` (``**how``) says; ``default`` as for `dataclasses.field`."""
    return field(default=default, metadata={"how": _How(**how)})


@functools.cache
def _record_fields(cls: type) -> tuple[tuple[str, Any, _How], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name], f.metadata.get("how", _PLAIN)) for f in fields(cls) if f.init)


def _read(cls: type[_R], f: _Fields, *, required: frozenset[str] = frozenset()) -> _R:
    """One record of type ``cls`` from ``f``; ``required``: optional fields this place must have."""
    values = {name: _read_field(f, name, kind, how, optional=name not in required)
              for name, kind, how in _record_fields(cls)}
    f.done()
    return cls(**values)


def _read_field(f: _Fields, key: str, kind: Any, how: _How, *, optional: bool) -> Any:
    args = typing.get_args(kind)
    nullable = optional and type(None) in args
    if type(None) in args:  # ``T | None``: null or absent is allowed unless this place requires the field
        (kind,) = [a for a in args if a is not type(None)]
    value: Any
    if kind is bool:
        value = f.flag(key)
    elif kind is int:
        value = f.whole(key)
    elif kind is str:
        if how.choices:
            value = f.choice(key, how.choices)
        elif how.timestamp:
            value = f.timestamp(key, nullable=nullable)
        else:
            value = f.text(key, nullable=nullable or how.absent_as_empty, empty_ok=how.empty_ok)
        if how.absent_as_empty:
            value = value or ""
    elif typing.get_origin(kind) is tuple:
        (item, _) = typing.get_args(kind)
        value = f.texts(key) if item is str else _records(item, f, key)
    elif is_dataclass(kind):
        sub = f.sub(key, nullable=nullable)
        value = None if sub is None else _read(kind, sub)
    else:  # pragma: no cover - a record declared with a type the reader does not know
        raise TypeError(f"cannot read a field of type {kind!r}")
    if how.pattern and value is not None and not re.fullmatch(how.pattern, value):
        raise SpecError(how.mismatch.format(value=value), field=f.name(key))
    return value


def _records(cls: type[_R], f: _Fields, key: str, *, required: frozenset[str] = frozenset()) -> tuple[_R, ...]:
    return tuple(_read(cls, _Fields(item, path), required=required) for item, path in f.items(key))


@dataclass(frozen=True)
class ProductionRef:
    id: str
    title: str


@dataclass(frozen=True)
class PreparedBy:
    """Who ran the report: the authenticated person (never typed in), with their crew roles."""

    person: str
    roles: tuple[str, ...]
    authenticated: bool

    @property
    def line(self) -> str:
        roles = f" ({', '.join(self.roles)})" if self.roles else ""
        suffix = "" if self.authenticated else " - NOT AUTHENTICATED (single-user mode)"
        return f"{self.person}{roles}{suffix}"


@dataclass(frozen=True)
class SignOff:
    """Who must sign the report off: a crew member holding the named role; signed in ink on the PDF."""

    role: str
    person: str


@dataclass(frozen=True)
class AuditHeadRef:
    """The audit log's last event when the report was built: ``audit verify`` must reach it."""

    seq: int
    hash: str = _how(pattern=r"[0-9a-f]{64}", mismatch="must be 64 lowercase hex digits")

    @property
    def line(self) -> str:
        return f"event #{self.seq}, hash {self.hash}"


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    version: str = _how(empty_ok=True)
    licence: str
    weights_sha256: str = _how(pattern=r"[0-9a-fA-F]{64}", mismatch="must be 64 hex digits")
    training_data: str = _how(choices=TRAINING_DATA)
    evidence: str = _how(absent_as_empty=True, empty_ok=True)
    stores_inputs: bool
    trains_on_inputs: bool
    runs_in_production_env: bool
    trained_model: bool

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
    outcome: str = _how(choices=OUTCOMES)


@dataclass(frozen=True)
class DecisionInfo:
    outcome: str = _how(choices=OUTCOMES)
    reasons: tuple[RuleReason, ...]
    approver_roles: tuple[str, ...]
    duties: tuple[str, ...]


@dataclass(frozen=True)
class ApprovalInfo:
    role: str
    person: str
    verdict: str = _how(choices=VERDICTS)
    note: str = _how(absent_as_empty=True, empty_ok=True)
    at: str = _how(timestamp=True)


@dataclass(frozen=True)
class ConsentInfo:
    """A consent a use relied on; the production-wide list (`DisclosureData.consents`) must also name
    the performer's id (read there with ``required={"performer_id"}``)."""

    consent_id: str
    performer: str
    kind: str
    description: str = _how(empty_ok=True)
    valid_until: str | None = _how(timestamp=True)
    status: str = _how(choices=CONSENT_STATUSES)
    performer_id: str | None = None


@dataclass(frozen=True)
class WatermarkRef:
    engine: str
    payload_hex: str = _how(pattern=_HEX.pattern, mismatch="must be an even number of hex digits")


@dataclass(frozen=True)
class C2paRef:
    manifest_label: str
    digital_source_type: str


@dataclass(frozen=True)
class AssetInfo:
    id: str = _how(**_HEX16_ID)
    name: str
    media_type: str
    watermark: WatermarkRef | None
    c2pa: C2paRef | None
    status: str = _how(choices=ASSET_STATUSES)

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class GenAIUse:
    job_id: str
    operation: str
    scene: str | None
    shot: str | None
    deliverable: str = _how(choices=DELIVERABLES)
    requested_by: str
    created_at: str = _how(timestamp=True)
    model: ModelInfo
    decision: DecisionInfo
    approvals: tuple[ApprovalInfo, ...]
    consents: tuple[ConsentInfo, ...]
    assets: tuple[AssetInfo, ...]

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
    asset_id: str = _how(**_HEX16_ID)
    name: str
    scene: str | None
    shot: str | None
    consent_id: str | None
    revoked_at: str | None = _how(timestamp=True)
    reason: str


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
    prepared_by: PreparedBy
    sign_off: SignOff | None
    audit_head: AuditHeadRef
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
        production = _read_field(f, "production", ProductionRef, _PLAIN, optional=False)
        s = f.sub("scope")
        assert s is not None
        episode = s.text("episode", nullable=True)
        s.done()
        doc = cls(production, episode, f.timestamp("generated_at") or "",
                  _read_field(f, "prepared_by", PreparedBy, _PLAIN, optional=False),
                  _read_field(f, "sign_off", SignOff | None, _PLAIN, optional=True),
                  _read_field(f, "audit_head", AuditHeadRef, _PLAIN, optional=False),
                  _records(GenAIUse, f, "uses"), _records(ModelInfo, f, "models"),
                  _records(ConsentInfo, f, "consents", required=frozenset({"performer_id"})),
                  _records(QuarantinedAsset, f, "quarantined"), _records(PerformerDepicted, f, "performers_depicted"),
                  source=json.loads(json.dumps(data)))
        f.done()
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



def _title_line(doc: DisclosureData) -> str:
    scope = f" - episode {doc.episode}" if doc.episode is not None else ""
    return f"GenAI disclosure: {doc.production.title}{scope}"



@dataclass(frozen=True)
class SyntheticVoice:
    """One performer whose voice the production synthesised or altered: what was done, where, and
    whether every such use still rests on a recorded, unrevoked consent."""

    performer: str
    operations: tuple[str, ...]
    scenes: tuple[str, ...]
    jobs: tuple[str, ...]
    in_programme: bool
    consented: bool

    def to_dict(self) -> dict[str, Any]:
        return {"performer": self.performer, "operations": list(self.operations), "scenes": list(self.scenes),
                "jobs": list(self.jobs), "in_programme": self.in_programme, "consented": self.consented}


def synthetic_voices(doc: "DisclosureData") -> tuple[SyntheticVoice, ...]:
    """Every performer whose voice a use synthesised or altered (named by the consents the use relied
    on), in name order."""
    by_performer: dict[str, list[GenAIUse]] = {}
    for use in doc.uses:
        if use.operation in _VOICE:
            for name in sorted({c.performer for c in use.consents}) or ["(performer not recorded)"]:
                by_performer.setdefault(name, []).append(use)
    out = []
    for name in sorted(by_performer):
        uses = by_performer[name]
        out.append(SyntheticVoice(
            performer=name, operations=tuple(sorted({u.operation for u in uses})),
            scenes=tuple(sorted({u.scene_key for u in uses})), jobs=tuple(u.job_id for u in uses),
            in_programme=any(u.in_programme for u in uses),
            consented=all(any(c.status != "revoked" for c in u.consents) for u in uses)))
    return tuple(out)
