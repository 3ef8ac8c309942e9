"""The contract between the VFX executor (media I/O, chunks, workers) and the frame operations.

Why a separate module: the operations (``soundstage.vfx.ops``) and the executor are written
independently; both import only this file, so neither depends on the other's internals.

Rules an operation must follow so chunked, resumable, parallel runs stay exact:

* ``process_chunk(frames, first_index, warmup)`` receives ``warmup`` context frames followed by the
  frames to output. ``frames[0:warmup]`` are the frames ``first_index - warmup .. first_index - 1``
  (fewer than ``warmup_frames`` at the start of the clip: ``warmup`` is the real count).
  It returns exactly ``len(frames) - warmup`` frames, HxWx3 uint8 RGB, same size as the input.
  An operation may also offer ``iter_chunk`` with the same arguments, yielding those frames in
  order as they are made: the executor then marks, encodes and frees each one at once instead of
  holding the whole chunk's output (the built-in face operations do).
* Deterministic: the output for frame *i* depends only on the input frames, ``first_index``,
  ``warmup`` and the OpContext — never on wall time, global RNG state or earlier calls. A chunked
  run must equal a single-chunk run frame for frame, so any temporal state (trackers, smoothing)
  must be rebuilt from the warm-up frames; choose ``warmup_frames`` large enough that the state
  has converged (e.g. a One Euro filter that has forgotten its start) or make the state a pure
  function of a bounded window.
* Operations are built inside worker processes by ``make_operation(ctx)``; ``OpContext`` is
  picklable and holds only plain data and file paths (local copies the worker fetched by hash).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

__all__ = ["FrameOperation", "OpContext", "OperationFactory", "resolve_factory"]


@runtime_checkable
class FrameOperation(Protocol):
    """One frame operation, instantiated once per worker per job."""

    name: str
    warmup_frames: int  # frames BEFORE a chunk's first frame the op wants to see (decoded, not output)

    def process_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> list[np.ndarray]:
        """``frames[0:warmup]`` are context only; return ``len(frames) - warmup`` HxWx3 uint8 RGB frames."""
        ...


@dataclass(frozen=True)
class OpContext:
    """Everything a worker needs to build the operation; built once per job by the backend."""

    operation: str  # a name in soundstage.vfx.registry (or a test op name with its own factory)
    #: the operation's declared parameters as validated from the job spec, plus what the backend
    #: adds from the spec and the model record (amount, seed, generative configuration)
    params: dict[str, Any] = field(default_factory=dict)
    performers: dict[str, str] = field(default_factory=dict)  # performer_id -> enrolled reference image path
    fps: float = 24.0
    width: int = 0
    height: int = 0
    extra_inputs: dict[str, str] = field(default_factory=dict)  # role -> path ("background", "mask")
    #: the production's secret watermark key (hex; empty: the public default), held by the
    #: submitting process only: it turns it into a marking capability for the job's asset id, and
    #: operations run with it emptied (on render nodes and locally alike: DR016).
    watermark_key: str = field(default="", repr=False)


OperationFactory = Callable[[OpContext], FrameOperation]


def resolve_factory(spec: str) -> OperationFactory:
    """Import ``"package.module:function"`` lazily, inside a worker (keeps mediapipe out of the parent).

    The default spec is ``"soundstage.vfx.ops:make_operation"``. A spec whose module part is a
    ``.py`` file path loads that file (plug-in operations and tests that are not on sys.path)."""
    module_name, _, attr = spec.rpartition(":")
    if module_name.endswith(".py"):
        key = "soundstage_vfx_plugin_" + str(abs(hash(module_name)))
        module = sys.modules.get(key)
        if module is None:
            file_spec = importlib.util.spec_from_file_location(key, module_name)
            if file_spec is None or file_spec.loader is None:
                raise ImportError(f"cannot load operations from {module_name}")
            module = importlib.util.module_from_spec(file_spec)
            sys.modules[key] = module
            file_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, attr or "make_operation")
