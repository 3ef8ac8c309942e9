"""Frame operations of the VFX backend: cosmetic, de-age, background, cleanup.

``make_operation(ctx)`` is the factory the executor resolves inside each worker
("soundstage.vfx.ops:make_operation"); heavy imports (mediapipe, dlib) happen there, not at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from soundstage.errors import SpecError

if TYPE_CHECKING:
    from soundstage.vfx.contract import FrameOperation, OpContext

__all__ = ["make_operation", "warmup_frames_for", "OPERATION_NAMES"]

OPERATION_NAMES = ("cosmetic", "deage", "background", "cleanup")


def make_operation(ctx: "OpContext") -> "FrameOperation":
    """Build the operation named by ``ctx.operation``; reference images are enrolled here (bad ones fail early)."""
    name = ctx.operation
    if name == "cosmetic":
        from .cosmetic import CosmeticOperation

        return CosmeticOperation(dict(ctx.params), dict(ctx.performers), ctx.fps)
    if name == "deage":
        from .deage import DeageOperation

        return DeageOperation(dict(ctx.params), dict(ctx.performers), ctx.fps)
    if name == "background":
        from .background import BackgroundOperation

        return BackgroundOperation(dict(ctx.params), dict(ctx.extra_inputs))
    if name == "cleanup":
        from .cleanup import CleanupOperation

        return CleanupOperation(dict(ctx.params), dict(ctx.performers), dict(ctx.extra_inputs), ctx.width, ctx.height,
                                bytes.fromhex(ctx.watermark_key) or None)
    raise SpecError(f"{name!r} is not a VFX operation (one of: {', '.join(OPERATION_NAMES)})", field="operation")


def warmup_frames_for(ctx: "OpContext") -> int:
    """The warm-up the operation named by ``ctx.operation`` needs, read from its class without building it.

    Why: the executor plans chunks in the parent process; building the operation there just to read
    this number loaded mediapipe and dlib and enrolled every reference (~2 s) in a process that never
    processes a frame."""
    name = ctx.operation
    if name == "cosmetic":
        from .cosmetic import CosmeticOperation

        return int(CosmeticOperation.warmup_frames)
    if name == "deage":
        from .deage import DeageOperation

        return int(DeageOperation.warmup_frames)
    if name == "background":
        from .background import BackgroundOperation

        return int(BackgroundOperation.warmup_frames)
    if name == "cleanup":
        from .cleanup import CleanupOperation

        return int(CleanupOperation.warmup_frames)
    raise SpecError(f"{name!r} is not a VFX operation (one of: {', '.join(OPERATION_NAMES)})", field="operation")


# the executor looks for this attribute on a factory to plan chunks without building the operation
make_operation.warmup_frames_for = warmup_frames_for  # type: ignore[attr-defined]
