"""What a soundstage Content Credential says: the manifest definition, built from pure data.

The builder is pure (no I/O, no c2pa import) so a job spec can be turned into the exact
manifest it will carry before anything runs — the policy engine and approvers can read it.

Operation → first action and IPTC digitalSourceType (C2PA 2.2 §18.14, IPTC 2024-10-23):
    GENERATED   c2pa.created  trainedAlgorithmicMedia                (model made it from nothing)
    PROCEDURAL  c2pa.created  algorithmicMedia                       (renderer, no trained model)
    GENAI_EDIT  c2pa.opened (parentOf plate), c2pa.edited  compositeWithTrainedAlgorithmicMedia
    COMPOSITE   c2pa.opened (parentOf plate), c2pa.placed (componentOf elements)
                                                compositeWithTrainedAlgorithmicMedia
    EDIT        c2pa.opened (parentOf plate), c2pa.edited  algorithmicallyEnhanced, or
                compositeWithTrainedAlgorithmicMedia when the plate itself was made with a trained
                model (an edit never launders AI origin away)
    INGEST      c2pa.opened (parentOf the source itself); no digitalSourceType: we claim
                nothing about how the source was made, its own credentials (if any) become
                the ingredient's manifest. Signing an ingest always writes a *copy*; the
                camera original / delivered screenplay is never rewritten.
A soft binding (invisible watermark) adds a `c2pa.soft-binding` assertion and a
`c2pa.watermarked.bound` action (C2PA 2.3+, accepted by c2pa-rs 0.91).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Mapping

from soundstage import __version__ as SOUNDSTAGE_VERSION
from soundstage.errors import SpecError

__all__ = [
    "IPTC",
    "SOUNDSTAGE_ASSERTION",
    "TRAINING_MINING_ASSERTION",
    "TRAINING_MINING_KEYS",
    "CREATED_ASSERTION_LABELS",
    "AI_SOURCE_TYPES",
    "source_type_of",
    "Operation",
    "SoftwareAgent",
    "ModelInfo",
    "IngredientSource",
    "SoundstageRecord",
    "ManifestSpec",
    "build_manifest",
    "consent_reference",
]

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOUNDSTAGE_ASSERTION = "io.soundstage.production"
SOUNDSTAGE_SCHEMA = "SoundstageProvenance.1"
TRAINING_MINING_ASSERTION = "cawg.training-mining"
TRAINING_MINING_KEYS = ("cawg.data_mining", "cawg.ai_inference", "cawg.ai_generative_training", "cawg.ai_training")
TRAINING_MINING_USES = ("allowed", "notAllowed", "constrained")
#: what soundstage itself states, so the signer vouches for it: C2PA 2.2 §10.2.2 puts the actions
#: assertion (the AI disclosure among it) in a claim's created assertions; the rest would be
#: "gathered", i.e. taken from elsewhere without the signer's attestation
CREATED_ASSERTION_LABELS = ("c2pa.actions", "c2pa.soft-binding", TRAINING_MINING_ASSERTION, SOUNDSTAGE_ASSERTION)

# Ingredient labels used to point actions at ingredients (c2pa-rs resolves them to hashed URIs).
PARENT_ID = "soundstage.parent"
MODEL_ID = "soundstage.model"


class Operation(StrEnum):
    GENERATED = "generated"
    PROCEDURAL = "procedural"
    GENAI_EDIT = "genai_edit"
    COMPOSITE = "composite"
    EDIT = "edit"  # classical (no trained model) alteration of a plate: retouch, key, inpaint by OpenCV
    INGEST = "ingest"


_SOURCE_TYPE = {
    Operation.GENERATED: IPTC + "trainedAlgorithmicMedia",
    Operation.PROCEDURAL: IPTC + "algorithmicMedia",
    Operation.GENAI_EDIT: IPTC + "compositeWithTrainedAlgorithmicMedia",
    Operation.COMPOSITE: IPTC + "compositeWithTrainedAlgorithmicMedia",
    Operation.EDIT: IPTC + "algorithmicallyEnhanced",
}


@dataclass(frozen=True)
class SoftwareAgent:
    name: str
    version: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


@dataclass(frozen=True)
class ModelInfo:
    """The trained model behind an output; recorded as an `inputTo` ingredient with metadata."""

    name: str
    version: str
    weights_sha256: str
    licence: str
    training_data_attestation: str | None = None
    identifier: str | None = None  # URI / PURL, e.g. pkg:huggingface/org/model@rev


@dataclass(frozen=True)
class IngredientSource:
    """A file that went into the asset: its bytes are hashed (and its own manifest kept) by c2pa."""

    title: str
    path: Path | None = None
    data: bytes | None = None
    mime: str | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise SpecError("an ingredient needs exactly one of a path or bytes", field="ingredient")


@dataclass(frozen=True)
class SoundstageRecord:
    """Our own assertion: ties the asset to the ledger. Consent ids are salted hashes, never names."""

    production_id: str
    job_id: str
    asset_id: str
    consent_ids: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the audit chain's head (seq, hash) when the asset was signed: signed with the claim, so every
    #: delivered file anchors the chain outside the database (`soundstage audit verify --witness`)
    audit_head: tuple[int, str] | None = None


@dataclass(frozen=True)
class ManifestSpec:
    operation: Operation
    title: str
    generator: SoftwareAgent
    soundstage_version: str = SOUNDSTAGE_VERSION
    model: ModelInfo | None = None
    parent: IngredientSource | None = None
    components: tuple[IngredientSource, ...] = ()
    record: SoundstageRecord | None = None
    soft_binding: Mapping[str, Any] | None = None
    training_mining: Mapping[str, str] | None = None  # key -> use; None = every key "notAllowed"
    description: str | None = None
    #: the parent (the plate edited) was itself made with a trained model: an edit of it keeps that
    #: origin visible (compositeWithTrainedAlgorithmicMedia), however classical the edit
    parent_ai_origin: bool = False


#: digitalSourceTypes that say a trained model made (some of) the media: "made with AI"
AI_SOURCE_TYPES = frozenset({IPTC + "trainedAlgorithmicMedia", IPTC + "compositeWithTrainedAlgorithmicMedia"})


def source_type_of(operation: Operation, parent_ai_origin: bool = False) -> str | None:
    """The IPTC digitalSourceType an output declares. An edit keeps its parent's AI origin."""
    if operation is Operation.EDIT and parent_ai_origin:
        return IPTC + "compositeWithTrainedAlgorithmicMedia"
    return _SOURCE_TYPE.get(operation)


def consent_reference(production_id: str, consent_id: str) -> str:
    """sha256 hex of a consent id salted with the production: linkable in our ledger, opaque outside."""
    return hashlib.sha256(f"soundstage-consent\x00{production_id}\x00{consent_id}".encode("utf-8")).hexdigest()


def component_id(index: int) -> str:
    return f"soundstage.component.{index}"


def build_manifest(spec: ManifestSpec) -> dict[str, Any]:
    """The manifest definition for c2pa's Builder; ingredients with bytes are added at signing."""
    _check(spec)
    agent = spec.generator.as_json()
    source_type = source_type_of(spec.operation, spec.parent_ai_origin)
    model_ids = [MODEL_ID] if spec.model else []
    actions: list[dict[str, Any]] = []

    if spec.operation in (Operation.GENERATED, Operation.PROCEDURAL):
        created: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": agent}
        if model_ids:
            created["parameters"] = {"ingredientIds": model_ids}
        if spec.description:
            created["description"] = spec.description
        actions.append(created)
    else:
        actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": [PARENT_ID]}})
        if spec.operation in (Operation.GENAI_EDIT, Operation.EDIT):
            edited: dict[str, Any] = {"action": "c2pa.edited", "digitalSourceType": source_type, "softwareAgent": agent}
            if model_ids:
                edited["parameters"] = {"ingredientIds": model_ids}
            if spec.description:
                edited["description"] = spec.description
            actions.append(edited)
        elif spec.operation is Operation.COMPOSITE:
            placed: dict[str, Any] = {
                "action": "c2pa.placed", "digitalSourceType": source_type, "softwareAgent": agent,
                "parameters": {"ingredientIds": [component_id(i) for i in range(len(spec.components))] + model_ids},
            }
            if spec.description:
                placed["description"] = spec.description
            actions.append(placed)

    assertions: list[dict[str, Any]] = []
    if spec.soft_binding is not None:
        actions.append({"action": "c2pa.watermarked.bound", "softwareAgent": {"name": "soundstage",
                                                                              "version": spec.soundstage_version},
                        "description": "invisible watermark embedded; see c2pa.soft-binding"})
    assertions.append({"label": "c2pa.actions", "data": {"actions": actions}})
    if spec.soft_binding is not None:
        assertions.append({"label": "c2pa.soft-binding", "data": dict(spec.soft_binding)})
    if spec.operation is not Operation.INGEST:
        assertions.append({"label": TRAINING_MINING_ASSERTION, "data": {"entries": _training_mining(spec)}})
    if spec.record is not None:
        assertions.append({"label": SOUNDSTAGE_ASSERTION, "data": _record_body(spec)})

    manifest: dict[str, Any] = {
        "claim_generator_info": [{"name": "soundstage", "version": spec.soundstage_version}],
        "title": spec.title,
        "assertions": assertions,
    }
    if spec.model is not None:
        manifest["ingredients"] = [_model_ingredient(spec.model)]
    return manifest


def ingredient_plan(spec: ManifestSpec) -> list[tuple[dict[str, Any], IngredientSource]]:
    """(ingredient JSON, source) pairs to hand to Builder.add_ingredient, in a stable order."""
    plan: list[tuple[dict[str, Any], IngredientSource]] = []
    if spec.parent is not None and spec.operation in (Operation.GENAI_EDIT, Operation.EDIT, Operation.COMPOSITE,
                                                      Operation.INGEST):
        plan.append(({"title": spec.parent.title, "relationship": "parentOf", "label": PARENT_ID}, spec.parent))
    if spec.operation is Operation.COMPOSITE:
        for index, component in enumerate(spec.components):
            plan.append(({"title": component.title, "relationship": "componentOf", "label": component_id(index)},
                         component))
    return plan


def _check(spec: ManifestSpec) -> None:
    if not isinstance(spec.operation, Operation):
        raise SpecError(f"unknown operation {spec.operation!r}", field="operation")
    if not spec.title.strip():
        raise SpecError("title is empty", field="title")
    needs_parent = spec.operation in (Operation.GENAI_EDIT, Operation.EDIT, Operation.COMPOSITE, Operation.INGEST)
    if needs_parent and spec.parent is None:
        raise SpecError(f"a {spec.operation.value} needs the parent plate it opens", field="parent")
    if not needs_parent and spec.parent is not None:
        raise SpecError(f"a {spec.operation.value} asset has no parent; use genai_edit or composite", field="parent")
    if spec.operation is Operation.COMPOSITE and not spec.components:
        raise SpecError("a composite needs at least one placed component", field="components")
    if spec.operation is not Operation.COMPOSITE and spec.components:
        raise SpecError("components are only meaningful for a composite", field="components")
    if spec.operation in (Operation.GENERATED, Operation.GENAI_EDIT) and spec.model is None:
        raise SpecError(f"a {spec.operation.value} asset must name the trained model that made it", field="model")
    if spec.operation in (Operation.PROCEDURAL, Operation.EDIT) and spec.model is not None:
        raise SpecError(f"a {spec.operation.value} asset uses no trained model; use 'generated' or 'genai_edit'",
                        field="model")
    if spec.model is not None:
        digest = spec.model.weights_sha256.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise SpecError("weights_sha256 must be 64 hex characters", field="model.weights_sha256")
    if spec.soft_binding is not None:
        if not isinstance(spec.soft_binding.get("alg"), str) or not spec.soft_binding["alg"]:
            raise SpecError("a soft binding needs an 'alg' string", field="soft_binding.alg")
        if not isinstance(spec.soft_binding.get("blocks"), list) or not spec.soft_binding["blocks"]:
            raise SpecError("a soft binding needs a non-empty 'blocks' list", field="soft_binding.blocks")


def _training_mining(spec: ManifestSpec) -> dict[str, dict[str, str]]:
    uses = {key: "notAllowed" for key in TRAINING_MINING_KEYS}
    for key, use in (spec.training_mining or {}).items():
        if use not in TRAINING_MINING_USES:
            raise SpecError(f"use must be one of {', '.join(TRAINING_MINING_USES)}", field=f"training_mining.{key}")
        uses[key] = use
    return {key: {"use": use} for key, use in uses.items()}


def _record_body(spec: ManifestSpec) -> dict[str, Any]:
    record = spec.record
    assert record is not None
    body: dict[str, Any] = {
        "schema": SOUNDSTAGE_SCHEMA,
        "operation": spec.operation.value,
        "production_id": record.production_id,
        "job_id": record.job_id,
        "asset_id": record.asset_id,
        "consent_refs": sorted(consent_reference(record.production_id, cid) for cid in record.consent_ids),
    }
    if record.audit_head is not None:
        seq, head_hash = record.audit_head
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or not isinstance(head_hash, str) \
                or len(head_hash) != 64 or any(c not in "0123456789abcdef" for c in head_hash):
            raise SpecError("the audit head is a seq (0 or more) and a 64-hex hash", field="record.audit_head")
        body["audit_head"] = {"seq": seq, "hash": head_hash}
    if record.extra:
        clash = set(record.extra) & (set(body) | {"audit_head"})
        if clash:
            raise SpecError(f"extra keys clash with reserved ones: {', '.join(sorted(clash))}", field="record.extra")
        body.update(record.extra)
    return body


def _model_ingredient(model: ModelInfo) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "io.soundstage.model": {
            "name": model.name,
            "version": model.version,
            "weights_sha256": model.weights_sha256.lower(),
            "licence": model.licence,
        }
    }
    if model.training_data_attestation:
        metadata["io.soundstage.model"]["training_data_attestation"] = model.training_data_attestation
    if model.identifier:
        metadata["io.soundstage.model"]["identifier"] = model.identifier
    return {
        "title": f"{model.name} {model.version}",
        "format": "application/octet-stream",
        "relationship": "inputTo",
        "label": MODEL_ID,
        "instance_id": f"sha256:{model.weights_sha256.lower()}",
        "metadata": metadata,
    }
