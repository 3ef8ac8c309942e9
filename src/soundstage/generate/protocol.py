"""The contract every generator and alterer meets. See docs/guides/write-a-generator.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

from soundstage.domain.safeguards import JobSpec, ModelCard


@dataclass(frozen=True)
class GenerationInput:
    """An input asset, already checked by the guard (exists, active, not quarantined)."""

    asset_id: int
    path: Path
    media_type: str
    kind: str
    name: str


@dataclass(frozen=True)
class GenerationRequest:
    job: JobSpec
    inputs: tuple[GenerationInput, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0


@dataclass
class GeneratedImage:
    """One output frame. ``pixels`` is HxWx3 uint8 RGB; the guard watermarks and signs it."""

    pixels: np.ndarray
    name: str
    parents: tuple[int, ...] = ()  # asset ids this frame was made from (lineage)
    operation: str = "generated"  # generated | procedural | genai_edit | composite | edit
    details: dict = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """A backend. ``model_id`` must be registered in the production's model registry."""

    model_id: str

    def model_card(self) -> ModelCard:
        """What the registry records about this backend: licence, weights hash, training data."""
        ...

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        """Produce frames. Must not write files: the guard stores, marks and signs outputs."""
        ...
