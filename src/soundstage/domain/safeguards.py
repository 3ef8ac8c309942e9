"""The nouns the safeguards reason about: performers, consents, model cards, job specs, decisions.

Pure data, no I/O. Everything is JSON-able (`to_dict`/`from_dict`) because a job spec and the
decision taken on it are what gets approved, audited, signed and sent to workers. Collections
are stored as tuples so the frozen objects really are immutable (and hashable).

`load_job_spec` reads a job spec from YAML text and, when a field is wrong, says which field on
which line - a person editing a spec by hand needs the line, not a traceback.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Iterable, Mapping

import yaml

from soundstage.clock import as_utc
from soundstage.domain.canonical import canonical_bytes, canonical_json
from soundstage.errors import SpecError, UnsafeInputError

__all__ = [
    "OperationKind",
    "ConsentKind",
    "Role",
    "Outcome",
    "Performer",
    "ConsentScope",
    "Consent",
    "ModelCard",
    "JobSpec",
    "Reason",
    "ConsentCheck",
    "Decision",
    "LIKENESS_OPERATIONS",
    "VOICE_OPERATIONS",
    "DIGITAL_ALTERATION_OPERATIONS",
    "REPLICA_OPERATIONS",
    "REPLICA_KINDS",
    "LocatedDict",
    "LocatedList",
    "compose_located",
    "load_job_spec",
    "job_spec_from_mapping",
    "job_spec_from_request",
    "upgrade_job_spec",
    "canonical_spec_json",
    "spec_digest",
    "JOB_SPEC_SCHEMA",
]

SCHEMA = "Safeguards.1"
MAX_SPEC_BYTES = 1_000_000


class OperationKind(StrEnum):
    IDEATION = "ideation"  # mood boards, reference images
    CONCEPT_ART = "concept_art"  # wardrobe / set / character concepts
    STORYBOARD = "storyboard"  # previz frames
    BACKGROUND_ELEMENT = "background_element"  # signage, posters, documents on camera
    KEY_VISUAL = "key_visual"  # final character design / key visual
    GENERATED_CHARACTER = "generated_character"  # story-central synthetic character
    LIKENESS_COSMETIC = "likeness_cosmetic"  # blemish removal and similar customary fixes
    LIKENESS_DEAGE = "likeness_deage"  # re-/de-ageing
    LIKENESS_REPLICA = "likeness_replica"  # digital replica giving a new performance
    PERFORMANCE_ALTERATION = "performance_alteration"  # tone, lip-sync, visual ADR
    BACKGROUND_REPLACEMENT = "background_replacement"
    SET_EXTENSION = "set_extension"
    CLEANUP = "cleanup"  # object removal / inpainting
    VOICE_SYNTHESIS = "voice_synthesis"
    # a performer's voice (issue 17, DR018): the same scene/shot/window/territory/media scope
    VOICE_ADR = "voice.adr"  # a recorded line replaced in the plate's audio (ADR)
    VOICE_DUB = "voice.dub"  # the performer's line dubbed into another language in their voice
    VOICE_SYNTHETIC_LINE = "voice.synthetic_line"  # a line the performer never recorded
    TRAINING = "training"  # fine-tuning on material
    # a language model reads the script's pages and suggests breakdown elements (DR022): no picture,
    # no performer; its output is a signed JSON suggestion set
    SCRIPT_BREAKDOWN = "script_breakdown"


#: Operations on a performer's voice that a voice job runs (consented like a likeness; DR018)
VOICE_OPERATIONS = frozenset({
    OperationKind.VOICE_ADR,
    OperationKind.VOICE_DUB,
    OperationKind.VOICE_SYNTHETIC_LINE,
})
#: Operations that touch a real performer's likeness or voice: they need a covering consent
#: (or an explicit, valid exception) for every performer named on the job.
LIKENESS_OPERATIONS = frozenset({
    OperationKind.LIKENESS_COSMETIC,
    OperationKind.LIKENESS_DEAGE,
    OperationKind.LIKENESS_REPLICA,
    OperationKind.PERFORMANCE_ALTERATION,
    OperationKind.VOICE_SYNTHESIS,
    OperationKind.VOICE_ADR,
    OperationKind.VOICE_DUB,
    OperationKind.VOICE_SYNTHETIC_LINE,
    OperationKind.TRAINING,  # fine-tuning on a performer's material creates a replica
})
#: Changes to photography/soundtrack the performer actually gave (SAG-AFTRA "digital alteration").
DIGITAL_ALTERATION_OPERATIONS = frozenset({
    OperationKind.LIKENESS_COSMETIC,
    OperationKind.LIKENESS_DEAGE,
    OperationKind.PERFORMANCE_ALTERATION,
    OperationKind.VOICE_ADR,  # the soundtrack the performer gave, one line replaced in their voice
})
#: Portraying the performer in material they did not perform (SAG-AFTRA "digital replica").
REPLICA_OPERATIONS = frozenset({
    OperationKind.LIKENESS_REPLICA,
    OperationKind.VOICE_SYNTHESIS,
    OperationKind.VOICE_DUB,  # words (in another language) the performer did not perform
    OperationKind.VOICE_SYNTHETIC_LINE,  # a line the performer never recorded
    OperationKind.TRAINING,
})


class ConsentKind(StrEnum):
    EMPLOYMENT_BASED_REPLICA = "employment_based_replica"
    INDEPENDENTLY_CREATED_REPLICA = "independently_created_replica"
    BACKGROUND_ACTOR_REPLICA = "background_actor_replica"
    DIGITAL_ALTERATION = "digital_alteration"


REPLICA_KINDS = frozenset({
    ConsentKind.EMPLOYMENT_BASED_REPLICA,
    ConsentKind.INDEPENDENTLY_CREATED_REPLICA,
    ConsentKind.BACKGROUND_ACTOR_REPLICA,
})


class Role(StrEnum):
    PRODUCER = "producer"
    VFX_SUPERVISOR = "vfx_supervisor"
    RIGHTS_CLEARANCE = "rights_clearance"
    LEGAL = "legal"
    PERFORMER_REP = "performer_rep"


class Outcome(StrEnum):
    PROCEED = "proceed"
    ESCALATE = "escalate"
    DENY = "deny"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Outcome.PROCEED: 0, Outcome.ESCALATE: 1, Outcome.DENY: 2}

UNION_STATUSES = ("sag-aftra", "non-union", "equity", "other-union")
AUTHORITIES = ("performer", "estate", "union")
REPRESENTATIONS = ("counsel", "union", "none")
TRAINING_DATA = ("owned", "licensed", "public_domain", "unknown")
DELIVERABLES = ("temporary", "final")
MEDIA = ("previz", "final")
EXCEPTION_CLAIMS = ("cosmetic", "as_scripted", "unrecognisable", "unsafe_for_human", "first_amendment")


# --------------------------------------------------------------------------- helpers

def _dt_to_json(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt_from_json(value: Any, name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return as_utc(value) if isinstance(value, datetime) else None
    if hasattr(value, "isoformat") and not isinstance(value, str):  # a YAML date
        value = value.isoformat()
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError as exc:
        raise SpecError(f"not an ISO-8601 date/time: {value!r}", field=name) from exc


def _tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return () if value is None else tuple(value)


def _freeze(obj: Any, **conversions: Any) -> None:
    for name, convert in conversions.items():
        object.__setattr__(obj, name, convert(getattr(obj, name)))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def _asdict(obj: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}


def _known(data: Mapping[str, Any], cls: type) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SpecError(f"unknown field for {cls.__name__}", field=unknown[0])
    return dict(data)


def _choice(value: Any, allowed: Iterable[str], name: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise SpecError(f"{value!r} is not one of {', '.join(allowed)}", field=name)
    return str(value)


# --------------------------------------------------------------------------- nouns

@dataclass(frozen=True)
class Performer:
    """A real person whose likeness or voice may appear in generated output."""

    id: str
    name: str
    union_status: str = "non-union"
    living: bool = True
    consent_authority: str = "performer"  # who may consent: performer | estate | union
    representatives: tuple[str, ...] = ()  # person ids of agents / counsel / union reps
    has_reference: bool = False  # a capture session or reference plates exist
    died_at: datetime | None = None  # only meaningful when not living

    def __post_init__(self) -> None:
        _freeze(self, representatives=_tuple)
        _choice(self.consent_authority, AUTHORITIES, "consent_authority")

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Performer:
        data = _known(data, cls)
        data["died_at"] = _dt_from_json(data.get("died_at"), "died_at")
        return cls(**data)


@dataclass(frozen=True)
class ConsentScope:
    """What a consent allows. Empty scenes/shots mean every scene/shot; empty media/territory none."""

    operations: tuple[OperationKind, ...] = ()
    scenes: tuple[str, ...] = ()
    shots: tuple[str, ...] = ()
    max_alteration: float = 0.0
    media: tuple[str, ...] = ("previz", "final")
    territory: tuple[str, ...] = ("worldwide",)

    def __post_init__(self) -> None:
        try:
            ops = tuple(OperationKind(o) for o in _tuple(self.operations))
        except ValueError as exc:
            raise SpecError(str(exc), field="scope.operations") from exc
        object.__setattr__(self, "operations", ops)
        _freeze(self, scenes=lambda v: tuple(str(s) for s in _tuple(v)),
                shots=lambda v: tuple(str(s) for s in _tuple(v)),
                media=_tuple, territory=_tuple)
        if not (isinstance(self.max_alteration, (int, float)) and 0.0 <= self.max_alteration <= 1.0):
            raise SpecError("must be a number between 0 and 1", field="scope.max_alteration")

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConsentScope:
        return cls(**_known(data, cls))


@dataclass(frozen=True)
class Consent:
    """A performer's (or estate's / union's) documented permission for a production."""

    id: str
    performer_id: str
    production_id: str
    kind: ConsentKind
    scope: ConsentScope
    description: str
    valid_from: datetime
    valid_until: datetime | None = None
    signed_separately: bool = False  # SAG-AFTRA: not buried in boilerplate
    representation: str = "none"  # counsel | union | none (CA AB 2602)
    compensation_ref: str = ""
    document_sha256: str | None = None
    granted_by: str = "performer"
    revoked_at: datetime | None = None
    suspended: bool = False  # consent suspended during a strike

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", ConsentKind(self.kind))
        except ValueError as exc:
            raise SpecError(str(exc), field="kind") from exc
        _choice(self.representation, REPRESENTATIONS, "representation")
        _choice(self.granted_by, AUTHORITIES, "granted_by")
        for name in ("valid_from", "valid_until", "revoked_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value))

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Consent:
        data = _known(data, cls)
        data["scope"] = ConsentScope.from_dict(data.get("scope") or {})
        for name in ("valid_from", "valid_until", "revoked_at"):
            data[name] = _dt_from_json(data.get(name), name)
        if data.get("valid_from") is None:
            raise SpecError("a consent needs valid_from", field="valid_from")
        return cls(**data)


@dataclass(frozen=True)
class ModelCard:
    """What we know about a generator: licence, training-data attestation, data handling."""

    id: str
    name: str
    version: str = ""
    licence: str = ""
    weights_sha256: str | None = None
    training_data: str = "unknown"  # owned | licensed | public_domain | unknown
    evidence: str = ""
    # not stated = the unsafe case: a card must say False to claim the tool keeps nothing
    stores_inputs: bool = True
    trains_on_inputs: bool = True
    runs_in_production_env: bool = False
    trained_model: bool = True  # False for procedural renderers such as Blender
    #: the trained model makes pixels (diffusion, GAN); False for trained networks that only detect,
    #: locate or identify (face landmarks, mattes): its outputs are then disclosed by what the
    #: operation did, not as generated (issue 13, DR009). Not stated = generative, the safe case.
    generative: bool = True

    def __post_init__(self) -> None:
        _choice(self.training_data, TRAINING_DATA, "training_data")
        for name in ("stores_inputs", "trains_on_inputs", "generative"):
            value = getattr(self, name)
            if value is None:  # stated as empty (`~` in YAML): still not stated
                object.__setattr__(self, name, True)
            elif not isinstance(value, bool):
                raise SpecError(f"{value!r} is not true or false", field=name)

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)

    def check_sizes(self) -> None:
        """SpecError naming the first text field over MAX_CARD_CHARS (checked where a card is
        registered, not on load: a card registered before the limit still reads)."""
        for name, limit in MAX_CARD_CHARS.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise SpecError(f"is not text of at most {limit} characters", field=name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        return cls(**_known(data, cls))


@dataclass(frozen=True)
class JobSpec:
    """One requested generation/operation: the thing that is checked, approved and audited."""

    id: str
    production_id: str
    operation: OperationKind
    requested_by: str
    model_id: str
    prompt: str = ""
    inputs: tuple[str, ...] = ()
    performers: tuple[str, ...] = ()
    scene: str | None = None
    shot: str | None = None
    alteration_amount: float = 0.0
    deliverable: str = "temporary"
    story_relevant: bool = False
    uses_proprietary_material: bool = False
    uses_personal_data: bool = False
    exception_claim: str | None = None
    synthetic_replaces_performer: bool = False
    medium: str = "previz"
    territory: str = "worldwide"
    # what the output depicts, stated by the requester (the policy reads these facts; prompt words
    # are only a backstop that escalates)
    depicts_real_person: bool = False
    depicts_public_figure: bool = False
    depicts_real_event: bool = False
    news_format: bool = False
    # backend parameters (size, steps, strength, seed, ...): passed to the backend, recorded in the
    # audit log, never read by the policy engine
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.params, Mapping):
            raise SpecError("must be a mapping of name: value", field="params")
        object.__setattr__(self, "params", json.loads(json.dumps(dict(self.params), default=str)))
        try:
            object.__setattr__(self, "operation", OperationKind(self.operation))
        except ValueError as exc:
            raise SpecError(f"{self.operation!r} is not a known operation", field="operation") from exc
        _freeze(self, inputs=lambda v: tuple(_canonical_asset_ref(r) for r in _tuple(v)), performers=_tuple)
        amount = self.alteration_amount
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0.0 <= amount <= 1.0 \
                or math.isnan(amount):
            raise SpecError("must be a number between 0 and 1", field="alteration_amount")
        _choice(self.deliverable, DELIVERABLES, "deliverable")
        _choice(self.medium, MEDIA, "medium")
        if self.exception_claim is not None:
            _choice(self.exception_claim, EXCEPTION_CLAIMS, "exception_claim")
        _check_bounds(self)

    def to_dict(self) -> dict[str, Any]:
        """The canonical form: what is stored, approved, audited and digested."""
        return {"schema": JOB_SPEC_SCHEMA, **_asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        """A stored spec (any version this soundstage knows), upgraded to the current one."""
        return job_spec_from_mapping(upgrade_job_spec(data))


@dataclass(frozen=True)
class Reason:
    """Why a decision came out as it did: the rule that fired and what it asked for."""

    rule_id: str
    text: str
    outcome: str = "proceed"

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        return cls(**_known(data, cls))


@dataclass(frozen=True)
class ConsentCheck:
    """Whether one performer's likeness is covered for one job, and by what.

    `failures` are the rule ids explaining a missing cover; `exception` names a SAG-AFTRA /
    Netflix exception that made a consent (or its scope) unnecessary, so it can be recorded.
    """

    performer_id: str
    covered: bool
    consent_id: str | None = None
    reasons: tuple[Reason, ...] = ()
    failures: tuple[str, ...] = ()
    exception: str | None = None
    required: bool = True

    def __post_init__(self) -> None:
        _freeze(self, reasons=_tuple, failures=_tuple)

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConsentCheck:
        data = _known(data, cls)
        data["reasons"] = tuple(Reason.from_dict(r) for r in data.get("reasons") or ())
        return cls(**data)


@dataclass(frozen=True)
class Decision:
    """The policy engine's answer, with every rule that fired and whom it needs."""

    outcome: Outcome
    reasons: tuple[Reason, ...] = ()
    approver_roles: tuple[Role, ...] = ()
    notify: tuple[str, ...] = ()
    duties: tuple[str, ...] = ()
    packs: tuple[str, ...] = ()  # "pack@version" of every pack consulted
    #: on a denial: the approvers and duties the other (escalating) rules asked for. Nobody can
    #: approve a denial, but an override only ever adds to what the rules required, so it needs these.
    held_roles: tuple[Role, ...] = ()
    held_duties: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        _freeze(self, reasons=_tuple, approver_roles=lambda v: tuple(Role(r) for r in _tuple(v)),
                notify=_tuple, duties=_tuple, packs=_tuple,
                held_roles=lambda v: tuple(Role(r) for r in _tuple(v)), held_duties=_tuple)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return _asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        data = _known(data, cls)
        data["reasons"] = tuple(Reason.from_dict(r) for r in data.get("reasons") or ())
        return cls(**data)


# --------------------------------------------------------------------------- YAML with lines

class LocatedDict(dict):
    """A mapping read from YAML that remembers its own line and the line of every key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LocatedList(list):
    """A sequence read from YAML that remembers its own line and each item's line."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


def compose_located(text: str, source: str | None = None) -> Any:
    """Parse YAML keeping line numbers; refuses anchors/aliases (a billion-laughs vector)
    and duplicate keys (the second silently wins in plain YAML)."""
    if len(text.encode("utf-8", "ignore")) > MAX_SPEC_BYTES:
        raise UnsafeInputError(f"{source or 'document'} is larger than {MAX_SPEC_BYTES} bytes")
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise SpecError(f"not valid YAML: {exc.problem or exc}", line=line, source=source) from None
        except yaml.YAMLError as exc:
            raise SpecError(f"not valid YAML: {exc}", source=source) from None
        if node is None:
            return None
        return _convert(node, loader, source, set())
    finally:
        loader.dispose()


def _convert(node: yaml.Node, loader: yaml.SafeLoader, source: str | None, seen: set[int]) -> Any:
    if id(node) in seen:
        raise SpecError("YAML anchors/aliases are not allowed", line=node.start_mark.line + 1, source=source)
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen.add(id(node))
        out = LocatedDict()
        out.line, out.key_lines = line, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("YAML merge keys are not allowed", line=key_node.start_mark.line + 1, source=source)
            key = _convert(key_node, loader, source, seen)
            if not isinstance(key, str):
                raise SpecError("keys must be text", field=str(key), line=key_node.start_mark.line + 1,
                                source=source)
            if key in out:
                raise SpecError("duplicate key", field=key, line=key_node.start_mark.line + 1, source=source)
            out[key] = _convert(value_node, loader, source, seen)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seen.add(id(node))
        items = LocatedList()
        items.line, items.item_lines = line, []
        for item in node.value:
            items.append(_convert(item, loader, source, seen))
            items.item_lines.append(item.start_mark.line + 1)
        return items
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise SpecError(f"bad value: {exc}", line=line, source=source) from None


# --------------------------------------------------------------------------- job specs

JOB_SPEC_SCHEMA = "JobSpec.2"
#: bounds on every size a client chooses in a spec (parameters are bounded by their declarations)
MAX_PROMPT_CHARS = 4000
MAX_INPUTS = 4096  # an animatic cuts every storyboard panel of a script
MAX_PERFORMERS = 16
MAX_LABEL_CHARS = 40  # scene and shot numbers
MAX_ID_CHARS = 100  # model and performer ids
#: what a model card's text may hold (characters): the card is copied into reports, audit events and
#: every output's credentials, so a client may not choose its size
MAX_CARD_CHARS = {"id": MAX_ID_CHARS, "name": 300, "version": 100, "licence": 500, "evidence": 4000,
                  "weights_sha256": 64}
#: fields only the server sets: a client that sends one is refused, never silently overridden
SERVER_OWNED_FIELDS = ("id", "requested_by")
#: parameters JobSpec.1 carried that are server settings now (resolved by the guard, never by a client)
_V1_SERVER_PARAMS = ("performer_refs", "work_dir", "cluster", "keep_chunks", "vfx_operation", "chunk_frames",
                     "executor")


def _check_bounds(spec: "JobSpec") -> None:
    if not isinstance(spec.prompt, str) or len(spec.prompt) > MAX_PROMPT_CHARS:
        raise SpecError(f"is longer than {MAX_PROMPT_CHARS} characters", field="prompt")
    if len(spec.inputs) > MAX_INPUTS:
        raise SpecError(f"names more than {MAX_INPUTS} inputs", field="inputs")
    if len(spec.performers) > MAX_PERFORMERS:
        raise SpecError(f"names more than {MAX_PERFORMERS} performers", field="performers")
    if len(set(spec.inputs)) != len(spec.inputs) or len(set(spec.performers)) != len(spec.performers):
        raise SpecError("names the same id twice", field="inputs" if len(set(spec.inputs)) != len(spec.inputs)
                        else "performers")
    for ref in spec.inputs:
        if not _ASSET_REF.fullmatch(ref):
            raise SpecError(f"{ref[:40]!r} is not an asset id (16 hex digits)", field="inputs")
    for name in ("model_id", "id", "production_id"):
        if len(getattr(spec, name)) > MAX_ID_CHARS:
            raise SpecError(f"is longer than {MAX_ID_CHARS} characters", field=name)
    for ref in spec.performers:
        if not ref or len(ref) > MAX_ID_CHARS:
            raise SpecError("performer ids are 1 to 100 characters", field="performers")
    for name in ("scene", "shot"):
        value = getattr(spec, name)
        if value is not None and len(value) > MAX_LABEL_CHARS:
            raise SpecError(f"is longer than {MAX_LABEL_CHARS} characters", field=name)
    if spec.id and not _JOB_ID.fullmatch(spec.id):
        raise SpecError(f"{spec.id[:40]!r} is not a job id", field="id")


_ASSET_REF = re.compile(r"[0-9a-f]{16}")


def _canonical_asset_ref(ref: Any) -> Any:
    """One spelling per asset id ("A-00AB", "a-ab", "00ab" are one asset): 16 lowercase hex digits."""
    if isinstance(ref, str) and re.fullmatch(r"(?:[Aa]-)?[0-9a-fA-F]{1,16}", ref.strip()):
        return f"{int(ref.strip()[2:] if ref.strip()[:2] in ('A-', 'a-') else ref.strip(), 16):016x}"
    return ref
#: job ids are generated by the server; the pattern keeps them safe as file and URL names
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def upgrade_job_spec(data: Mapping[str, Any]) -> dict[str, Any]:
    """Bring a stored spec of an older schema to the current one (pure; tested per version).

    JobSpec.1 (no ``schema`` field) carried server settings in ``params``: the reference-face paths,
    the work directory, the Dask address, a second operation name for the VFX backend. They are
    dropped: the guard resolves each itself, and ``operation`` alone says what runs."""
    if not isinstance(data, Mapping):
        raise SpecError("a job spec must be a mapping of field: value")
    out = dict(data)
    schema = out.pop("schema", "JobSpec.1")
    if schema == "JobSpec.1":
        params = out.get("params")
        if isinstance(params, Mapping):
            out["params"] = {k: v for k, v in params.items() if k not in _V1_SERVER_PARAMS}
    elif schema != JOB_SPEC_SCHEMA:
        raise SpecError(f"unknown job spec schema {schema!r}", field="schema",
                        hint=f"this soundstage reads JobSpec.1 and {JOB_SPEC_SCHEMA}")
    return out


def canonical_spec_json(spec: "JobSpec") -> str:
    """The one serialisation that is digested, audited and approved."""
    return canonical_json(spec.to_dict())


def spec_digest(spec: "JobSpec", input_hashes: Mapping[str, str]) -> str:
    """SHA-256 over the canonical spec and the content hash of every input it names: what an
    approver approves. Change a field, or the bytes of an input, and the digest changes."""
    body = canonical_bytes({"spec": spec.to_dict(), "inputs": {ref: input_hashes[ref] for ref in spec.inputs}})
    return hashlib.sha256(body).hexdigest()

_JOB_REQUIRED = ("id", "production_id", "operation", "requested_by", "model_id")
_JOB_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "production_id": str, "operation": str, "requested_by": str, "model_id": str,
    "prompt": str, "inputs": list, "performers": list, "scene": (str, int), "shot": (str, int),
    "alteration_amount": (int, float), "deliverable": str, "story_relevant": bool,
    "uses_proprietary_material": bool, "uses_personal_data": bool, "exception_claim": str,
    "synthetic_replaces_performer": bool, "medium": str, "territory": str, "params": dict,
    "depicts_real_person": bool, "depicts_public_figure": bool, "depicts_real_event": bool, "news_format": bool,
}


def job_spec_from_mapping(data: Mapping[str, Any], source: str | None = None) -> JobSpec:
    """Build a JobSpec from plain data, naming the field (and line, when known) at fault."""
    if isinstance(data, Mapping) and "schema" in data:
        if data["schema"] != JOB_SPEC_SCHEMA:
            data = upgrade_job_spec(data)
        else:
            data = {k: v for k, v in data.items() if k != "schema"} if not isinstance(data, LocatedDict) else data
    if not isinstance(data, Mapping):
        raise SpecError("a job spec must be a mapping of field: value", source=source,
                        line=getattr(data, "line", None))

    def line_of(key: str) -> int | None:
        return data.line_of(key) if isinstance(data, LocatedDict) else None

    for key in data:
        if key == "schema":
            continue
        if key not in _JOB_TYPES:
            raise SpecError("unknown field", field=str(key), line=line_of(key), source=source,
                            hint="known fields: " + ", ".join(_JOB_TYPES))
    for key in _JOB_REQUIRED:
        if data.get(key) in (None, ""):
            raise SpecError("required field is missing", field=key,
                            line=getattr(data, "line", None), source=source)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "schema":
            continue
        expected = _JOB_TYPES[key]
        if value is None and key in ("scene", "shot", "exception_claim", "prompt"):
            values[key] = None if key != "prompt" else ""
            continue
        bad_bool = isinstance(value, bool) and expected in ((int, float), (str, int))
        if bad_bool or not isinstance(value, expected):
            raise SpecError(f"wrong type {type(value).__name__}", field=key, line=line_of(key), source=source)
        if expected is list:
            if not all(isinstance(v, str) for v in value):
                raise SpecError("must be a list of ids (text)", field=key, line=line_of(key), source=source)
            value = tuple(value)
        if key in ("scene", "shot"):
            value = str(value)
        values[key] = value
    try:
        return JobSpec(**values)
    except SpecError as exc:
        raise SpecError(exc.message.split(": ", 1)[-1] if exc.field else exc.message,
                        field=exc.field, line=line_of(exc.field) if exc.field else None,
                        source=source) from None


def load_job_spec(text: str, source: str | None = None) -> JobSpec:
    """Read a stored or exported job spec from YAML text; errors carry the field and its line."""
    data = compose_located(text, source)
    return job_spec_from_mapping(data, source)


def job_spec_from_request(data: Any, *, production_id: str, requested_by: str, source: str | None = None) -> JobSpec:
    """A spec a person sent (API body, CLI YAML file). Server-owned fields are refused, not
    overridden, so a client learns at once that it cannot choose them; the production and the
    requester are the server's (the authenticated person)."""
    if not isinstance(data, Mapping):
        raise SpecError("a job spec must be a mapping of field: value", source=source,
                        line=getattr(data, "line", None))
    for key in SERVER_OWNED_FIELDS:
        if key in data:
            line = data.line_of(key) if isinstance(data, LocatedDict) else None
            raise SpecError("is set by the server, not by a request" + (
                " (a job id is generated at submission)" if key == "id" else
                " (the requester is the authenticated person)"), field=key, line=line, source=source)
    schema = data.get("schema", JOB_SPEC_SCHEMA)
    if schema != JOB_SPEC_SCHEMA:
        raise SpecError(f"requests use {JOB_SPEC_SCHEMA}, not {schema!r}"[:200], field="schema", source=source)
    if data.get("production_id") not in (None, production_id):
        raise SpecError(f"job is for production {str(data.get('production_id'))[:80]!r}, this workspace is "
                        f"{production_id!r}", field="production_id", source=source)
    body = {k: v for k, v in data.items() if k != "schema"}
    if isinstance(data, LocatedDict):
        located = LocatedDict(body)
        located.line, located.key_lines = data.line, data.key_lines
        body = located
    body.update({"id": "pending", "production_id": production_id, "requested_by": requested_by})
    spec = job_spec_from_mapping(body, source)
    return replace(spec, id="")
