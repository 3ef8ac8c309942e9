"""The contract every generator and alterer meets. See docs/guides/write-a-generator.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

from soundstage.domain.safeguards import JobSpec, ModelCard

if TYPE_CHECKING:
    from soundstage.safeguards.provenance.manifest import ModelInfo


@dataclass(frozen=True)
class GenerationInput:
    """An input asset, already checked by the guard (exists, active, not quarantined)."""

    asset_id: int
    path: Path
    media_type: str
    kind: str
    name: str
    watermark_payload: int | None = None  # set when a soundstage job made this input (its frames carry it)
    frames: tuple[Path, ...] = ()  # an image sequence's frame files in order (``path`` is then its index)
    sha256: str = ""  # the content hash the guard has just verified ``path`` against ("": not given)


@dataclass(frozen=True)
class GenerationRequest:
    """What a backend is asked to do. Backends never write to the asset store.

    ``reserved_asset_ids``: ledger ids the guard has set aside for the outputs, in order. A backend
    that returns video (``GeneratedClip``) must embed
    ``watermark.default_engine(watermark_key).embed(frame, reserved_asset_ids[i])``
    in every frame it encodes; the guard checks a sample of frames and refuses unmarked output.
    Stills (``GeneratedImage``) are marked by the guard itself.
    """

    job: JobSpec
    inputs: tuple[GenerationInput, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    scratch_dir: Path | None = None  # a private temporary directory for intermediate files
    reserved_asset_ids: tuple[int, ...] = ()
    progress: Callable[[int, int], None] | None = None  # (done, total)
    cancelled: Callable[[], bool] | None = None
    #: the production's secret watermark key: a backend that marks frames itself must use
    #: ``watermark.default_engine(watermark_key)`` (None: the public default key)
    watermark_key: bytes | None = field(default=None, repr=False)
    # Server-owned, resolved by the guard - never from the job spec:
    #: performer id -> their enrolled reference image, for every performer the job names who has
    #: an active reference under an active consent (a job cannot name an image to identify anyone)
    performer_references: Mapping[str, Path] = field(default_factory=dict)
    #: the production's persistent work directory for resumable chunks (None: ``scratch_dir``)
    work_root: Path | None = None
    #: the production's configured Dask scheduler (None: local processes) and local pool size
    cluster: str | None = None
    workers: int | None = None
    #: the production's store as render nodes reach it (a ``compute.nodes.JobStore``: its address,
    #: no credential), so chunk tasks name inputs by hash; None: the job runs on local files
    job_store: Any = None
    #: ``[compute]`` Dask settings (a ``compute.executors.ClusterOptions``: worker timeout, TLS files)
    cluster_options: Any = None


class InputUse(StrEnum):
    """How an output used one of the job's inputs besides the plate it edits (``parents[0]``): what
    its Content Credentials record. COMPONENT was placed into it (``componentOf``, ``c2pa.placed``);
    MASK said where to act (``inputTo``, hashed, its own manifest kept); REFERENCE informed it
    without being placed (``inputTo`` by the sha256 of its bytes only: never embedded)."""

    COMPONENT = "component"
    MASK = "mask"
    REFERENCE = "reference"


@dataclass(frozen=True)
class OutputProvenance:
    """What a backend declares about how an output was made, from its operation's declarations.

    ``inputs``: (input asset id, use) for inputs other than the edited plate; the guard refuses an
    id that is not one of the job's inputs. ``performer_references``: performers whose enrolled
    reference face identified them (recorded by hash only; the guard resolves the reference itself).
    ``networks``: the trained networks the output depended on, each a model ingredient. None of it
    can lower the disclosure: whether a trained model was involved is the model registry's word."""

    inputs: tuple[tuple[int, InputUse], ...] = ()
    performer_references: tuple[str, ...] = ()
    networks: tuple["ModelInfo", ...] = ()


@dataclass
class GeneratedImage:
    """One output frame. ``pixels`` is HxWx3 uint8 RGB; the guard watermarks and signs it."""

    pixels: np.ndarray
    name: str
    parents: tuple[int, ...] = ()  # asset ids this frame was made from (lineage)
    operation: str = "generated"  # generated | procedural | genai_edit | composite | edit
    details: dict = field(default_factory=dict)
    provenance: OutputProvenance | None = None


@dataclass
class GeneratedClip:
    """One output video, already encoded by the backend with every frame watermarked."""

    path: Path
    name: str
    payload: int  # the reserved asset id its frames carry
    parents: tuple[int, ...] = ()
    operation: str = "genai_edit"
    media_type: str = "video/mp4"
    details: dict = field(default_factory=dict)
    provenance: OutputProvenance | None = None


@dataclass
class GeneratedFile:
    """A non-media output (a .blend scene, a depth EXR, an OTIO timeline) that C2PA cannot embed into.

    The guard stores it with lineage and writes a signed sidecar manifest (``<name>.c2pa``) bound
    to its hash."""

    path: Path
    name: str
    media_type: str
    parents: tuple[int, ...] = ()
    details: dict = field(default_factory=dict)
    provenance: OutputProvenance | None = None


@runtime_checkable
class Generator(Protocol):
    """A backend. ``model_id`` must be registered in the production's model registry."""

    model_id: str

    def model_card(self) -> ModelCard:
        """What the registry records about this backend: licence, weights hash, training data."""
        ...

    def generate(self, request: GenerationRequest) -> list[GeneratedImage | GeneratedClip | GeneratedFile]:
        """Produce outputs. Never write to the asset store: the guard marks, signs and stores them."""
        ...
