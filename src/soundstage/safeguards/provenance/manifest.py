"""What a soundstage Content Credential says: the manifest definition, built from pure data.

The builder is pure (no I/O, no c2pa import) so a job spec can be turned into the exact
manifest it will carry before anything runs — the policy engine and approvers can read it.

Operation → actions and IPTC digitalSourceType (C2PA 2.2 §18.15, IPTC vocabulary of 2024-10-23;
the terms and why are in docs/decisions/DR009-disclosure-terms-and-soft-binding.md):
    GENERATED   c2pa.created  trainedAlgorithmicMedia                (a generative model made it)
    PROCEDURAL  c2pa.created  algorithmicMedia                       (renderer, no generative model)
    GENAI_EDIT  c2pa.opened (parentOf plate), c2pa.edited  compositeWithTrainedAlgorithmicMedia
    COMPOSITE   c2pa.opened (parentOf plate), c2pa.placed (componentOf: the placed elements, each
                a signed asset keeping its own manifest); without a parent (a document assembled
                from parts, e.g. storyboard sheets of generated frames) c2pa.created, c2pa.placed
                compositeWithTrainedAlgorithmicMedia when the plate, a placed element or the
                compositing model is of trained-algorithmic (generative) origin, else composite
    EDIT        c2pa.opened (parentOf plate), c2pa.edited  algorithmicallyEnhanced, or
                compositeWithTrainedAlgorithmicMedia when the plate itself was made with a trained
                model (an edit never launders AI origin away) or when trained networks altered an
                identified real person's likeness (`likeness`: de-ageing, face retouch)
    INGEST      c2pa.opened (parentOf the source itself); no digitalSourceType: we claim
                nothing about how the source was made, its own credentials (if any) become
                the ingredient's manifest. Signing an ingest always writes a *copy*; the
                camera original / delivered screenplay is never rewritten.

Ingredients: the plate is `parentOf`; placed elements `componentOf`; masks `inputTo` (hashed by
c2pa, their own manifest kept); references such as a performer's enrolled face `inputTo` *by hash
only* (`HashedReference`: no bytes, no thumbnail ever reach the file); every trained model (the
registered one and the networks it runs) an `inputTo` ingredient with the spec's `dataTypes`,
description and informationalURI, named by its weights' sha256; licence and training-data
attestation go in our created assertion `io.soundstage.models`.

The invisible watermark is recorded in our own created assertion `io.soundstage.watermark` with a
`c2pa.watermarked.unbound` action: our engine is not on the C2PA soft-binding algorithm list, so
we do not claim a `c2pa.soft-binding` (DR009).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Mapping

from soundstage import __version__ as SOUNDSTAGE_VERSION
from soundstage.errors import SpecError

__all__ = [
    "IPTC",
    "SOUNDSTAGE_ASSERTION",
    "WATERMARK_ASSERTION",
    "MODELS_ASSERTION",
    "TRAINING_MINING_ASSERTION",
    "TRAINING_MINING_KEYS",
    "CREATED_ASSERTION_LABELS",
    "AI_SOURCE_TYPES",
    "MODEL_FRAMEWORKS",
    "MODEL_TASKS",
    "source_type_of",
    "spec_source_type",
    "Operation",
    "SoftwareAgent",
    "ModelInfo",
    "IngredientSource",
    "HashedReference",
    "WatermarkInfo",
    "SoundstageRecord",
    "ManifestSpec",
    "build_manifest",
    "consent_reference",
    "model_data_types",
]

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOUNDSTAGE_ASSERTION = "io.soundstage.production"
SOUNDSTAGE_SCHEMA = "SoundstageProvenance.1"
#: the invisible watermark's facts (engine, payload): our own assertion, not a c2pa.soft-binding (DR009)
WATERMARK_ASSERTION = "io.soundstage.watermark"
WATERMARK_SCHEMA = "SoundstageWatermark.1"
#: licence and training-data attestation of every model ingredient (the ingredient itself carries the
#: spec's fields only: dataTypes, description, informationalURI, instanceID = weights hash)
MODELS_ASSERTION = "io.soundstage.models"
MODELS_SCHEMA = "SoundstageModels.1"
TRAINING_MINING_ASSERTION = "cawg.training-mining"
TRAINING_MINING_KEYS = ("cawg.data_mining", "cawg.ai_inference", "cawg.ai_generative_training", "cawg.ai_training")
TRAINING_MINING_USES = ("allowed", "notAllowed", "constrained")
#: what soundstage itself states, so the signer vouches for it: C2PA 2.2 §10.2.2 puts the actions
#: assertion (the AI disclosure among it) in a claim's created assertions; the ingredients we
#: describe, the thumbnails we make and our own assertions are ours too. Nothing is "gathered".
CREATED_ASSERTION_LABELS = ("c2pa.actions", "c2pa.ingredient", "c2pa.thumbnail.claim", "c2pa.thumbnail.ingredient",
                            TRAINING_MINING_ASSERTION, SOUNDSTAGE_ASSERTION, WATERMARK_ASSERTION, MODELS_ASSERTION)
#: C2PA 2.2 asset types (§18.16.8 dataTypes) for a model's framework, and for what a model does
MODEL_FRAMEWORKS = ("jax", "keras", "ml_net", "mxnet", "onnx", "openvino", "pytorch", "tensorflow")
MODEL_TASKS = ("generator", "classifier", "regressor", "cluster")

# Ingredient labels used to point actions at ingredients (c2pa-rs resolves them to hashed URIs).
PARENT_ID = "soundstage.parent"
MODEL_ID = "soundstage.model"

_HEX64 = re.compile(r"[0-9a-f]{64}")


class Operation(StrEnum):
    GENERATED = "generated"
    PROCEDURAL = "procedural"
    GENAI_EDIT = "genai_edit"
    COMPOSITE = "composite"
    EDIT = "edit"  # alteration of a plate without a generative model: retouch, key, inpaint by OpenCV
    INGEST = "ingest"


@dataclass(frozen=True)
class SoftwareAgent:
    name: str
    version: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


@dataclass(frozen=True)
class ModelInfo:
    """A trained model behind an output: an `inputTo` ingredient named by its weights' sha256.

    ``generative``: it makes pixels (``c2pa.types.generator``); otherwise ``task`` says what it
    computes (a detector is a ``classifier``, a landmark network a ``regressor``)."""

    name: str
    version: str
    weights_sha256: str | None
    licence: str
    training_data_attestation: str | None = None
    identifier: str | None = None  # URI / PURL, e.g. pkg:huggingface/org/model@rev
    generative: bool = True
    task: str | None = None  # for a non-generative model: classifier | regressor | cluster (None: a pipeline)
    framework: str | None = None  # tensorflow | pytorch | onnx | ...: c2pa.types.model.<framework>
    description: str | None = None
    informational_uri: str | None = None  # a page about the model (its model card): unauthenticated, for people
    training_data: str | None = None  # the registry's category: owned | licensed | public_domain | unknown


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
class HashedReference:
    """An `inputTo` ingredient recorded by the sha256 of its bytes only. The type holds no bytes, so
    nothing can embed them or make a thumbnail of them: a performer's reference face goes here."""

    title: str
    sha256: str
    format: str = "application/octet-stream"
    description: str | None = None


@dataclass(frozen=True)
class WatermarkInfo:
    """The invisible mark in the output: which engine, which payload (the asset's ledger id)."""

    engine: str  # the engine's algorithm id (WatermarkEngine.name)
    payload: int
    payload_bits: int
    keyed: bool = True  # detected only with the production's secret key
    timespan_ms: tuple[int, int] | None = None

    @classmethod
    def of(cls, engine: Any, payload: int, *, keyed: bool = True) -> WatermarkInfo:
        """From a watermark engine (anything with ``name`` and ``payload_bits``) and the payload it embedded."""
        return cls(str(engine.name), int(payload), int(engine.payload_bits), keyed=keyed)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schema": WATERMARK_SCHEMA,
            "engine": self.engine,
            "payload_hex": format(self.payload, f"0{(self.payload_bits + 3) // 4}x"),
            "payload_bits": self.payload_bits,
            "keyed": self.keyed,
            "c2pa_soft_binding": False,  # the engine is not on the C2PA soft-binding algorithm list (DR009)
            "detector": "soundstage verify" + (" with the production's watermark key" if self.keyed else ""),
        }
        if self.timespan_ms is not None:
            body["scope"] = {"timespan": {"start": self.timespan_ms[0], "end": self.timespan_ms[1]}}
        return body


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
    components: tuple[IngredientSource, ...] = ()  # placed into the output: componentOf (composites only)
    record: SoundstageRecord | None = None
    watermark: WatermarkInfo | None = None
    training_mining: Mapping[str, str] | None = None  # key -> use; None = every key "notAllowed"
    description: str | None = None
    #: the parent (the plate edited) was itself made with a trained model: an edit of it keeps that
    #: origin visible (compositeWithTrainedAlgorithmicMedia), however classical the edit
    parent_ai_origin: bool = False
    #: a placed component was made with a trained model: the composite says so (see the docstring)
    component_ai_origin: bool = False
    #: trained networks altered an identified real person's likeness (de-ageing, face retouch): the
    #: output is disclosed as an AI alteration (compositeWithTrainedAlgorithmicMedia, DR009)
    likeness: bool = False
    inputs: tuple[IngredientSource, ...] = ()  # masks and other files that steered the edit: inputTo
    references: tuple[HashedReference, ...] = ()  # inputTo by hash only (performer reference faces)
    networks: tuple[ModelInfo, ...] = ()  # further trained models the registered model runs: inputTo


#: digitalSourceTypes that say a trained model made (some of) the media: "made with AI" (the rule
#: Content Credentials viewers such as c2pa-js apply to the active manifest's actions)
AI_SOURCE_TYPES = frozenset({IPTC + "trainedAlgorithmicMedia", IPTC + "compositeWithTrainedAlgorithmicMedia"})


def source_type_of(operation: Operation, parent_ai_origin: bool = False, *, component_ai_origin: bool = False,
                   likeness: bool = False, generative_model: bool = False) -> str | None:
    """The IPTC digitalSourceType an output declares (see the module docstring and DR009)."""
    ai_edit = IPTC + "compositeWithTrainedAlgorithmicMedia"
    if operation is Operation.GENERATED:
        return IPTC + "trainedAlgorithmicMedia"
    if operation is Operation.PROCEDURAL:
        return IPTC + "algorithmicMedia"
    if operation is Operation.GENAI_EDIT:
        return ai_edit
    if operation is Operation.COMPOSITE:
        return ai_edit if (parent_ai_origin or component_ai_origin or generative_model) else IPTC + "composite"
    if operation is Operation.EDIT:
        return ai_edit if (parent_ai_origin or likeness) else IPTC + "algorithmicallyEnhanced"
    return None


def spec_source_type(spec: ManifestSpec) -> str | None:
    """The digitalSourceType `build_manifest` writes for this spec."""
    generative = any(m.generative for m in _models(spec))
    return source_type_of(spec.operation, spec.parent_ai_origin, component_ai_origin=spec.component_ai_origin,
                          likeness=spec.likeness, generative_model=generative)


def consent_reference(production_id: str, consent_id: str) -> str:
    """sha256 hex of a consent id salted with the production: linkable in our ledger, opaque outside."""
    return hashlib.sha256(f"soundstage-consent\x00{production_id}\x00{consent_id}".encode("utf-8")).hexdigest()


def component_id(index: int) -> str:
    return f"soundstage.component.{index}"


def input_id(index: int) -> str:
    return f"soundstage.input.{index}"


def reference_id(index: int) -> str:
    return f"soundstage.reference.{index}"


def network_id(index: int) -> str:
    return f"soundstage.network.{index}"


def model_data_types(model: ModelInfo) -> list[dict[str, str]]:
    """C2PA 2.2 dataTypes of a model ingredient: c2pa.types.model, its framework, what it does."""
    types = ["c2pa.types.model"]
    if model.framework:
        types.append(f"c2pa.types.model.{model.framework}")
    if model.generative:
        types.append("c2pa.types.generator")
    elif model.task:
        types.append(f"c2pa.types.{model.task}")
    return [{"type": t} for t in types]


def build_manifest(spec: ManifestSpec) -> dict[str, Any]:
    """The manifest definition for c2pa's Builder; ingredients with bytes are added at signing."""
    _check(spec)
    agent = spec.generator.as_json()
    source_type = spec_source_type(spec)
    used = _used_ids(spec)  # models, networks, masks and references: inputTo the main action
    actions: list[dict[str, Any]] = []

    def main(action: str, ids: list[str]) -> dict[str, Any]:
        entry: dict[str, Any] = {"action": action, "digitalSourceType": source_type, "softwareAgent": agent}
        if ids:
            entry["parameters"] = {"ingredientIds": ids}
        if spec.description:
            entry["description"] = spec.description
        return entry

    if spec.operation in (Operation.GENERATED, Operation.PROCEDURAL) or _assembled(spec):
        actions.append(main("c2pa.created", used))
        if _assembled(spec):  # a document assembled from parts: its components are placed, nothing opened
            actions.append({"action": "c2pa.placed", "softwareAgent": agent,
                            "parameters": {"ingredientIds": [component_id(i) for i in range(len(spec.components))]}})
    else:
        actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": [PARENT_ID]}})
        if spec.operation in (Operation.GENAI_EDIT, Operation.EDIT):
            actions.append(main("c2pa.edited", used))
        elif spec.operation is Operation.COMPOSITE:
            actions.append(main("c2pa.placed", [component_id(i) for i in range(len(spec.components))] + used))

    assertions: list[dict[str, Any]] = []
    if spec.watermark is not None:
        # C2PA 2.3: `.unbound` is a watermark that creates no soft binding (ours is not on the list)
        actions.append({"action": "c2pa.watermarked.unbound",
                        "softwareAgent": {"name": "soundstage", "version": spec.soundstage_version},
                        "description": f"invisible watermark embedded ({spec.watermark.engine}); its facts are in "
                                       f"{WATERMARK_ASSERTION}"})
    assertions.append({"label": "c2pa.actions", "data": {"actions": actions}})
    if spec.watermark is not None:
        assertions.append({"label": WATERMARK_ASSERTION, "data": spec.watermark.as_json()})
    if spec.operation is not Operation.INGEST:
        assertions.append({"label": TRAINING_MINING_ASSERTION, "data": {"entries": _training_mining(spec)}})
    if spec.record is not None:
        assertions.append({"label": SOUNDSTAGE_ASSERTION, "data": _record_body(spec)})
    models = _labelled_models(spec)
    if models:
        assertions.append({"label": MODELS_ASSERTION, "data": {
            "schema": MODELS_SCHEMA, "models": [_model_record(label, m) for label, m in models]}})

    manifest: dict[str, Any] = {
        "claim_generator_info": [{"name": "soundstage", "version": spec.soundstage_version}],
        "title": spec.title,
        "assertions": assertions,
    }
    dataless = [_model_ingredient(m, label) for label, m in models]
    dataless += [_reference_ingredient(r, reference_id(i)) for i, r in enumerate(spec.references)]
    if dataless:
        manifest["ingredients"] = dataless
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
    for index, source in enumerate(spec.inputs):
        plan.append(({"title": source.title, "relationship": "inputTo", "label": input_id(index)}, source))
    return plan


def _models(spec: ManifestSpec) -> list[ModelInfo]:
    return ([spec.model] if spec.model is not None else []) + list(spec.networks)


def _labelled_models(spec: ManifestSpec) -> list[tuple[str, ModelInfo]]:
    out = [(MODEL_ID, spec.model)] if spec.model is not None else []
    return out + [(network_id(i), m) for i, m in enumerate(spec.networks)]


def _used_ids(spec: ManifestSpec) -> list[str]:
    return ([label for label, _ in _labelled_models(spec)] + [input_id(i) for i in range(len(spec.inputs))]
            + [reference_id(i) for i in range(len(spec.references))])


def _assembled(spec: ManifestSpec) -> bool:
    """A composite without a parent: a document assembled from its components alone (storyboard
    sheets of generated frames, services/documents.py): c2pa.created, then c2pa.placed."""
    return spec.operation is Operation.COMPOSITE and spec.parent is None


def _check(spec: ManifestSpec) -> None:
    if not isinstance(spec.operation, Operation):
        raise SpecError(f"unknown operation {spec.operation!r}", field="operation")
    if not spec.title.strip():
        raise SpecError("title is empty", field="title")
    needs_parent = spec.operation in (Operation.GENAI_EDIT, Operation.EDIT, Operation.INGEST)
    if needs_parent and spec.parent is None:
        raise SpecError(f"a {spec.operation.value} needs the parent plate it opens", field="parent")
    if not needs_parent and spec.operation is not Operation.COMPOSITE and spec.parent is not None:
        raise SpecError(f"a {spec.operation.value} asset has no parent; use genai_edit or composite", field="parent")
    if spec.operation is Operation.COMPOSITE and not spec.components:
        raise SpecError("a composite needs at least one placed component", field="components")
    if spec.operation is not Operation.COMPOSITE and spec.components:
        raise SpecError("components are only meaningful for a composite", field="components")
    if spec.operation in (Operation.GENERATED, Operation.GENAI_EDIT) and (spec.model is None
                                                                          or not spec.model.generative):
        raise SpecError(f"a {spec.operation.value} asset must name the generative model that made it", field="model")
    if spec.operation in (Operation.PROCEDURAL, Operation.EDIT) and any(m.generative for m in _models(spec)):
        raise SpecError(f"a {spec.operation.value} asset uses no generative model; use 'generated' or 'genai_edit'",
                        field="model")
    if spec.operation is Operation.INGEST and (_models(spec) or spec.inputs or spec.references or spec.likeness):
        raise SpecError("an ingest states nothing about how its source was made", field="operation")
    if spec.likeness and not _models(spec):
        raise SpecError("a likeness alteration disclosed as AI must name the trained networks behind it",
                        field="likeness")
    if spec.likeness and spec.operation not in (Operation.EDIT, Operation.GENAI_EDIT):
        raise SpecError("only an edit of a plate alters a likeness", field="likeness")
    for name, model in [("model", spec.model)] + [(f"networks[{i}]", m) for i, m in enumerate(spec.networks)]:
        if model is not None:
            _check_model(model, name)
    for index, reference in enumerate(spec.references):
        if not isinstance(reference, HashedReference):
            raise SpecError("a reference is recorded by hash only (HashedReference)", field=f"references[{index}]")
        if not _HEX64.fullmatch(str(reference.sha256).lower()):
            raise SpecError("sha256 must be 64 hex characters", field=f"references[{index}].sha256")
    for index, source in enumerate(spec.inputs):
        if not isinstance(source, IngredientSource):
            raise SpecError("an input is an IngredientSource", field=f"inputs[{index}]")
    if spec.watermark is not None:
        mark = spec.watermark
        if not isinstance(mark, WatermarkInfo) or not mark.engine:
            raise SpecError("a watermark needs its engine's algorithm id", field="watermark.engine")
        if mark.payload_bits <= 0 or not 0 <= mark.payload < (1 << mark.payload_bits):
            raise SpecError(f"payload does not fit in {mark.payload_bits} bits", field="watermark.payload")
        if mark.timespan_ms is not None and not 0 <= mark.timespan_ms[0] <= mark.timespan_ms[1]:
            raise SpecError("need 0 <= start <= end (ms)", field="watermark.timespan_ms")


def _check_model(model: ModelInfo, name: str) -> None:
    if model.weights_sha256 is not None and not _HEX64.fullmatch(model.weights_sha256.lower()):
        raise SpecError("weights_sha256 must be 64 hex characters", field=f"{name}.weights_sha256")
    if model.framework is not None and model.framework not in MODEL_FRAMEWORKS:
        raise SpecError(f"framework must be one of {', '.join(MODEL_FRAMEWORKS)}", field=f"{name}.framework")
    if not model.generative and model.task is not None and model.task not in MODEL_TASKS[1:]:
        raise SpecError("a non-generative model computes a classifier, regressor or cluster", field=f"{name}.task")
    if model.informational_uri is not None and not re.match(r"https?://\S+$", model.informational_uri):
        raise SpecError("informational_uri must be an http(s) URL", field=f"{name}.informational_uri")


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


def _instance_id(model: ModelInfo) -> str | None:
    return f"sha256:{model.weights_sha256.lower()}" if model.weights_sha256 else None


def _model_ingredient(model: ModelInfo, label: str) -> dict[str, Any]:
    """A data-less `inputTo` ingredient (C2PA 2.2 §18.16): dataTypes, description, informationalURI."""
    kind = "generative model" if model.generative else f"{model.task or 'model'} (non-generative)"
    description = model.description or f"{model.name} {model.version}: trained {kind}"
    if not model.weights_sha256:
        description += "; no weights hash is registered"
    ingredient: dict[str, Any] = {
        "title": f"{model.name} {model.version}".strip(),
        "format": "application/octet-stream",
        "relationship": "inputTo",
        "label": label,
        "data_types": model_data_types(model),
        "description": description,
    }
    if _instance_id(model):
        ingredient["instance_id"] = _instance_id(model)
    uri = model.informational_uri or (model.identifier if model.identifier and
                                      re.match(r"https?://", model.identifier) else None)
    if uri:
        ingredient["informational_URI"] = uri  # c2pa-rs's JSON name for informationalURI
    return ingredient


def _model_record(label: str, model: ModelInfo) -> dict[str, Any]:
    """What the spec's ingredient fields cannot carry: licence and training-data attestation."""
    entry: dict[str, Any] = {"ingredient": label, "name": model.name, "version": model.version,
                             "instance_id": _instance_id(model), "licence": model.licence,
                             "generative": model.generative}
    for key in ("task", "training_data", "training_data_attestation", "identifier"):
        value = getattr(model, key)
        if value:
            entry[key] = value
    return entry


def _reference_ingredient(reference: HashedReference, label: str) -> dict[str, Any]:
    return {
        "title": reference.title,
        "format": reference.format,
        "relationship": "inputTo",
        "label": label,
        "instance_id": f"sha256:{reference.sha256.lower()}",
        "description": reference.description or "recorded by the sha256 of its bytes only; never embedded",
    }
