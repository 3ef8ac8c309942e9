"""The VFX operation registry: one entry per frame operation, built-ins and plug-ins alike.

An entry says everything the rest of soundstage needs: its name (what the audit log, the
manifest and the report call it), the job operations (policy kinds) it performs, the parameters a
job may set (the only ones that reach it), the second input it needs and how it uses it (placed
into the plate, a mask, a reference), whether it identifies performers by their enrolled reference
faces, the trained networks it runs (``NETWORKS``: what they are, their licences, what is known of
their training data), and where its class lives. The Content Credentials of its output are built
from these declarations (issue 13): the guard does not know the operations.
The VFX backend, ``make_operation`` in the workers, the CLI, the API schema and the guide's
parameter table all read this one table.

Third-party operations register an ``VfxOperationDef`` object under the ``soundstage.vfx_operations``
entry-point group; a model registered with ``backend: vfx`` and ``config: {operation: NAME}`` runs it
(see docs/guides/write-a-vfx-operation.md). A plug-in cannot take a built-in's name.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from typing import Any, Mapping

from soundstage.domain.params import Param
from soundstage.domain.safeguards import OperationKind
from soundstage.errors import SpecError

__all__ = ["VfxOperationDef", "BUILTIN_OPERATIONS", "ENTRY_POINT_GROUP", "vfx_operations", "operation_named",
           "operation_for", "CODEC", "INPUT_USES", "TrainedNetwork", "NetworkUse", "NETWORKS", "network_sha256",
           "network_version", "networks_digest"]

ENTRY_POINT_GROUP = "soundstage.vfx_operations"


#: how an operation uses the job's second input, i.e. what its Content Credentials record:
#: "component" is placed into the plate (componentOf, c2pa.placed: a background, an element);
#: "mask" says where to act (inputTo, hashed with its own manifest kept); "reference" informed the
#: output without being placed (inputTo by hash only: no bytes, no thumbnail)
INPUT_USES = ("component", "mask", "reference")


@dataclass(frozen=True)
class TrainedNetwork:
    """A trained network an operation runs: shipped in a package, recorded as a model ingredient.

    ``resource`` is the weights file inside ``package`` (None: compiled into the package's library,
    nothing separate to hash); ``task`` is its C2PA data type (classifier, regressor);
    ``training_data`` the registry category and ``attestation`` what its maker states about it."""

    name: str
    package: str
    resource: str | None
    licence: str
    task: str
    training_data: str
    attestation: str
    informational_uri: str
    framework: str | None = None  # c2pa.types.model.<framework>


@dataclass(frozen=True)
class NetworkUse:
    """A network an operation runs, and when: ``unless_param`` set (e.g. a chroma key replaces the
    matte network), only when ``param`` equals ``value``, only when performers are named."""

    network: str
    unless_param: str | None = None
    param: str | None = None
    value: Any = None
    needs_performers: bool = False

    def applies(self, params: Mapping[str, Any], performers: bool) -> bool:
        if self.unless_param is not None and params.get(self.unless_param) is not None:
            return False
        if self.param is not None and params.get(self.param) != self.value:
            return False
        return performers or not self.needs_performers


@dataclass(frozen=True)
class VfxOperationDef:
    """One frame operation. ``factory`` is ``"module:Class"``; the class has ``warmup_frames`` and
    ``from_context(ctx)``. ``second_input`` names the role of the job's second input (or None) and
    ``second_input_use`` how it is used (one of INPUT_USES; a plug-in that does not say is recorded
    as "reference": by hash, never claimed as placed). ``performer_references``: the operation
    identifies performers by their enrolled faces (default: when it alters faces). ``networks``:
    the trained networks it runs (names in NETWORKS)."""

    name: str
    kinds: tuple[OperationKind, ...]
    factory: str
    params: tuple[Param, ...] = ()
    second_input: str | None = None
    faces: bool = False  # alters identified performers' faces: needs their enrolled references
    description: str = ""
    second_input_use: str | None = None
    performer_references: bool | None = None
    networks: tuple[NetworkUse, ...] = ()
    #: the second input must be an asset a guarded job of this production made (marked and signed by
    #: it), never a file merely added to the store: a placed element is a production's own asset
    second_input_signed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(OperationKind(k) for k in self.kinds))
        if not self.kinds:
            raise ValueError(f"VFX operation {self.name} performs no job operation")
        if self.second_input and self.second_input_use is None:
            object.__setattr__(self, "second_input_use", "reference")
        if self.second_input_use is not None and self.second_input_use not in INPUT_USES:
            raise ValueError(f"VFX operation {self.name}: second_input_use must be one of {', '.join(INPUT_USES)}")
        if self.performer_references is None:
            object.__setattr__(self, "performer_references", self.faces)
        object.__setattr__(self, "networks", tuple(n if isinstance(n, NetworkUse) else NetworkUse(str(n))
                                                   for n in self.networks))
        unknown = [n.network for n in self.networks if n.network not in NETWORKS]
        if unknown:
            raise ValueError(f"VFX operation {self.name} runs unknown network {unknown[0]!r}")

    def networks_for(self, params: Mapping[str, Any], performers: bool = False) -> tuple[str, ...]:
        """The networks a job with these parameters runs (names in NETWORKS, in declared order)."""
        return tuple(n.network for n in self.networks if n.applies(params, performers))


_UNIT = dict(minimum=0.0, maximum=1.0)

_MP_CARDS = "https://google.github.io/mediapipe/solutions/"
_MP_DATA = ("trained by Google; the training images and their terms are described in Google's model card linked "
            "from this page and are not published with the model; the model is licensed to us under Apache-2.0")
_DLIB_MODELS = "https://github.com/davisking/dlib-models"

#: every trained network a built-in operation runs. Facts from their makers: MediaPipe's solution
#: pages and model cards (Google, Apache-2.0); dlib-models' README and dlib's frontal_face_detector.h
#: (Davis King: the model files are dedicated to the public domain, the library is under the Boost
#: Software License). Non-generative: they locate, segment or identify; no pixel comes from them.
NETWORKS: Mapping[str, TrainedNetwork] = {
    "mediapipe.face_detection_full_range": TrainedNetwork(
        "MediaPipe face detection, full range (BlazeFace, sparse)", "mediapipe",
        "modules/face_detection/face_detection_full_range_sparse.tflite", "Apache-2.0", "classifier", "licensed",
        _MP_DATA, _MP_CARDS + "face_detection", "tensorflow"),
    "mediapipe.face_detection_short_range": TrainedNetwork(
        "MediaPipe face detection, short range (BlazeFace)", "mediapipe",
        "modules/face_detection/face_detection_short_range.tflite", "Apache-2.0", "classifier", "licensed",
        _MP_DATA, _MP_CARDS + "face_detection", "tensorflow"),
    "mediapipe.face_landmark_with_attention": TrainedNetwork(
        "MediaPipe Face Mesh with attention (478 landmarks)", "mediapipe",
        "modules/face_landmark/face_landmark_with_attention.tflite", "Apache-2.0", "regressor", "licensed",
        _MP_DATA, _MP_CARDS + "face_mesh", "tensorflow"),
    "mediapipe.selfie_segmentation": TrainedNetwork(
        "MediaPipe selfie segmentation (general)", "mediapipe",
        "modules/selfie_segmentation/selfie_segmentation.tflite", "Apache-2.0", "classifier", "licensed",
        _MP_DATA, _MP_CARDS + "selfie_segmentation", "tensorflow"),
    "mediapipe.selfie_segmentation_landscape": TrainedNetwork(
        "MediaPipe selfie segmentation (landscape)", "mediapipe",
        "modules/selfie_segmentation/selfie_segmentation_landscape.tflite", "Apache-2.0", "classifier", "licensed",
        _MP_DATA, _MP_CARDS + "selfie_segmentation", "tensorflow"),
    "dlib.frontal_face_detector": TrainedNetwork(
        "dlib frontal face detector (HOG filters, linear classifier)", "dlib", None, "BSL-1.0", "classifier",
        "licensed", "trained by Davis King on face annotations of the Labeled Faces in the Wild images (news "
        "photographs of public figures), per dlib's frontal_face_detector.h; compiled into the dlib library "
        "(Boost Software License)", "http://dlib.net/"),
    "dlib.shape_predictor_5_face_landmarks": TrainedNetwork(
        "dlib 5-point face landmarks (regression trees)", "face_recognition_models",
        "models/shape_predictor_5_face_landmarks.dat", "public domain dedication by its author (dlib-models)",
        "regressor", "licensed", "trained by Davis King on the dlib 5-point face landmark dataset: 7198 faces in "
        "images he downloaded from the internet and annotated; the model file is dedicated to the public domain; "
        "the images' own rights were not cleared for us", _DLIB_MODELS),
    "dlib.face_recognition_resnet_v1": TrainedNetwork(
        "dlib ResNet face descriptor v1 (128-d identity embedding)", "face_recognition_models",
        "models/dlib_face_recognition_resnet_model_v1.dat", "public domain dedication by its author (dlib-models)",
        "classifier", "licensed", "trained by Davis King from scratch on about 3 million faces of 7485 identities "
        "from the FaceScrub and VGG Face datasets and images he scraped from the internet; the model file is "
        "dedicated to the public domain; the images' own rights were not cleared for us", _DLIB_MODELS),
}

#: what identifying a face runs (identity.FaceIdentifier): HOG boxes, 5 landmarks, the descriptor
_IDENTITY = ("dlib.frontal_face_detector", "dlib.shape_predictor_5_face_landmarks", "dlib.face_recognition_resnet_v1")
#: what tracking a face's landmarks runs (tracking.FaceAnalyzer): FaceMesh runs its own short-range detector
_FACE_MESH = ("mediapipe.face_detection_full_range", "mediapipe.face_detection_short_range",
              "mediapipe.face_landmark_with_attention")

BUILTIN_OPERATIONS: Mapping[str, VfxOperationDef] = {d.name: d for d in (
    VfxOperationDef(
        "deage", (OperationKind.LIKENESS_DEAGE,), "soundstage.vfx.ops.deage:DeageOperation", faces=True,
        networks=tuple(NetworkUse(n) for n in _FACE_MESH + _IDENTITY),
        description="De-age identified, consented performers (strength = the spec's alteration_amount)."),
    VfxOperationDef(
        "cosmetic", (OperationKind.LIKENESS_COSMETIC,), "soundstage.vfx.ops.cosmetic:CosmeticOperation", faces=True,
        networks=tuple(NetworkUse(n) for n in _FACE_MESH + _IDENTITY),
        description="Customary cosmetic retouch of identified, consented performers."),
    VfxOperationDef(
        "background", (OperationKind.BACKGROUND_REPLACEMENT,),
        "soundstage.vfx.ops.background:BackgroundOperation", second_input="background", second_input_use="component",
        networks=(NetworkUse("mediapipe.selfie_segmentation", unless_param="key", param="matte_model", value=0),
                  NetworkUse("mediapipe.selfie_segmentation_landscape", unless_param="key", param="matte_model",
                             value=1)),
        params=(
            Param("key", "choice", "Key a green or blue screen instead of matting the person.", None,
                  choices=("green", "blue")),
            Param("color_match", "float", "How far the new background is graded toward the plate.", None, **_UNIT),
            Param("light_wrap", "float", "Background light wrapped onto the subject's edges.", 0.35, **_UNIT),
            Param("matte_model", "int", "Person matte: 0 close-up model, 1 wide model.", 1, 0, 1),
        ),
        description="Replace the background behind the people in the plate (matte or key)."),
    VfxOperationDef(
        "cleanup", (OperationKind.CLEANUP,), "soundstage.vfx.ops.cleanup:CleanupOperation", second_input="mask",
        second_input_use="mask", performer_references=True,
        networks=(NetworkUse("mediapipe.face_detection_full_range"),
                  *(NetworkUse(n, needs_performers=True) for n in _IDENTITY)),
        params=(
            Param("method", "choice", "Inpainting method (a model registered with generative config "
                  "inpaints generatively instead).", "telea", choices=("telea", "ns")),
            Param("radius", "int", "Inpainting radius in pixels.", 5, 1, 50),
        ),
        description="Paint out what the mask covers (white = remove); refuses to erase marks or faces."),
    # an element placed into a plate (issue 16): a set extension; no trained network, classical tracking
    VfxOperationDef(
        "place", (OperationKind.SET_EXTENSION,), "soundstage.vfx.ops.place:PlaceOperation", second_input="element",
        second_input_use="component", second_input_signed=True,
        params=(
            Param("corners", "json", "Corner keyframes of the element, each \"F:x1,y1,x2,y2,x3,y3,x4,y4\" "
                  "(top-left, top-right, bottom-right, bottom-left at frame F; the first at frame 0), or JSON "
                  "objects with \"frame\" and \"corners\".", None, max_length=64 * 1024),
            Param("region", "json", "The planar region tracked in frame 0: \"x1,y1,x2,y2,x3,y3,x4,y4\" (default: "
                  "the frame-0 corners).", None, max_length=1024),
            Param("track", "bool", "Track the plane (off: a corner pin interpolated between keyframes).", True),
            Param("key", "choice", "Key the element's green or blue screen (an element without alpha).", None,
                  choices=("green", "blue")),
            Param("grade", "float", "How far the element's colour and level move toward the plate's.", 0.7, **_UNIT),
            Param("grain", "float", "Grain added to the element, in units of the plate's measured noise.", 1.0,
                  0.0, 2.0),
            Param("feather", "float", "Edge softness in pixels (at 1080 lines).", 1.5, 0.0, 50.0),
            Param("defocus", "float", "Blur matching the plate's lens softness, in pixels (at 1080 lines).", 0.0,
                  0.0, 20.0),
            Param("light_wrap", "float", "Plate light wrapped onto the element's edges.", 0.25, **_UNIT),
            Param("smoothing", "float", "Smoothing of the tracked corner paths (0: the raw track).", 0.2, **_UNIT),
        ),
        description="Place a signed element (still or clip, alpha or key) into the plate, tracked to a plane."),
)}

#: every VFX job may choose its delivery codec
CODEC = Param("codec", "choice", "Delivery codec of the output clip.", "h264", choices=("h264", "h265", "prores"))


@lru_cache(maxsize=1)
def vfx_operations() -> dict[str, VfxOperationDef]:
    """Built-ins first, then plug-ins; a plug-in cannot replace a built-in."""
    found = dict(BUILTIN_OPERATIONS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        definition = ep.load()
        if not isinstance(definition, VfxOperationDef) or definition.name != ep.name:
            raise SpecError(f"entry point {ep.name!r} in {ENTRY_POINT_GROUP} must be a VfxOperationDef named "
                            f"{ep.name!r}")
        found[ep.name] = definition
    return found


def operation_named(name: str) -> VfxOperationDef:
    ops = vfx_operations()
    if name not in ops:
        raise SpecError(f"{name!r} is not a registered VFX operation", field="operation",
                        hint="registered: " + ", ".join(ops))
    return ops[name]


def operation_for(kind: OperationKind | str, configured: str | None = None) -> VfxOperationDef:
    """The frame operation that performs job operation ``kind``: the model's configured one when its
    record names one (it must perform ``kind``), else the built-in that does."""
    kind = OperationKind(kind)
    if configured:
        definition = operation_named(configured)
        if kind not in definition.kinds:
            raise SpecError(f"the VFX operation {definition.name!r} does not perform {kind.value}", field="operation",
                            hint="it performs: " + ", ".join(k.value for k in definition.kinds))
        return definition
    for definition in BUILTIN_OPERATIONS.values():
        if kind in definition.kinds:
            return definition
    raise SpecError(f"no VFX operation performs {kind.value}", field="operation",
                    hint="VFX operations: " + ", ".join(k.value for d in BUILTIN_OPERATIONS.values() for k in d.kinds))


def _package_dir(package: str) -> Path | None:
    """A package's folder, found without importing it (mediapipe costs 0.6 s and pins protobuf)."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(spec.origin).parent if spec.origin else None


@lru_cache(maxsize=None)
def network_sha256(name: str) -> str | None:
    """sha256 of the network's weights file as installed (None: compiled into a library, or missing)."""
    network = NETWORKS[name]
    folder = _package_dir(network.package) if network.resource else None
    path = folder / network.resource if folder is not None and network.resource else None
    if path is None or not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def network_version(name: str) -> str:
    """The installed version of the package that ships the network ("" when it is not installed)."""
    distribution = {"dlib": "dlib-bin", "face_recognition_models": "face-recognition-models"}.get(
        NETWORKS[name].package, NETWORKS[name].package)
    try:
        return version(distribution)
    except PackageNotFoundError:
        return ""


def networks_digest(names: tuple[str, ...]) -> str | None:
    """One sha256 naming a set of networks: over the sorted "name sha256" lines of their weights files.
    None when a weights file is missing (the installation cannot be named honestly)."""
    lines = []
    for name in sorted(set(names)):
        if NETWORKS[name].resource is None:
            lines.append(f"{name} {network_version(name) or '-'}")
            continue
        sha = network_sha256(name)
        if sha is None:
            return None
        lines.append(f"{name} {sha}")
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()

