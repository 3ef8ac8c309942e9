"""Frame operations of the VFX backend: cosmetic, de-age, background, cleanup (and plug-ins).

``make_operation(ctx)`` is the factory the executor resolves inside each worker
("soundstage.vfx.ops:make_operation"): it looks ``ctx.operation`` up in the one VFX operation
registry (``soundstage.vfx.registry``) and builds that class; heavy imports (mediapipe, dlib)
happen there, not at import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from soundstage.errors import SpecError
from soundstage.vfx.registry import operation_named

if TYPE_CHECKING:
    from soundstage.vfx.contract import FrameOperation, OpContext

__all__ = ["make_operation", "warmup_frames_for"]


def _operation_class(name: str):
    target = operation_named(name).factory
    module_name, _, attr = target.partition(":")
    try:
        return getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"VFX operation {name!r} cannot be loaded from {target}: {exc}") from exc


def make_operation(ctx: "OpContext") -> "FrameOperation":
    """Build the operation named by ``ctx.operation``; reference images are enrolled here (bad ones fail early)."""
    return _operation_class(ctx.operation).from_context(ctx)


def warmup_frames_for(ctx: "OpContext") -> int:
    """The warm-up the operation named by ``ctx.operation`` needs, read from its class without building it.

    Why: the executor plans chunks in the parent process; building the operation there just to read
    this number loaded mediapipe and dlib and enrolled every reference (~2 s) in a process that never
    processes a frame."""
    return int(_operation_class(ctx.operation).warmup_frames)


# the executor looks for this attribute on a factory to plan chunks without building the operation
make_operation.warmup_frames_for = warmup_frames_for  # type: ignore[attr-defined]
