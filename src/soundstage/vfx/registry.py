"""The VFX operation registry: one entry per frame operation, built-ins and plug-ins alike.

An entry says everything the rest of soundstage needs: its name (what the audit log, the
manifest and the report call it), the job operations (policy kinds) it performs, the parameters a
job may set (the only ones that reach it), the second input it needs, and where its class lives.
The VFX backend, ``make_operation`` in the workers, the CLI, the API schema and the guide's
parameter table all read this one table.

Third-party operations register an ``VfxOperationDef`` object under the ``soundstage.vfx_operations``
entry-point group; a model registered with ``backend: vfx`` and ``config: {operation: NAME}`` runs it
(see docs/guides/write-a-vfx-operation.md). A plug-in cannot take a built-in's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Mapping

from soundstage.domain.params import Param
from soundstage.domain.safeguards import OperationKind
from soundstage.errors import SpecError

__all__ = ["VfxOperationDef", "BUILTIN_OPERATIONS", "ENTRY_POINT_GROUP", "vfx_operations", "operation_named",
           "operation_for", "CODEC"]

ENTRY_POINT_GROUP = "soundstage.vfx_operations"


@dataclass(frozen=True)
class VfxOperationDef:
    """One frame operation. ``factory`` is ``"module:Class"``; the class has ``warmup_frames`` and
    ``from_context(ctx)``. ``second_input`` names the role of the job's second input (or None)."""

    name: str
    kinds: tuple[OperationKind, ...]
    factory: str
    params: tuple[Param, ...] = ()
    second_input: str | None = None
    faces: bool = False  # alters identified performers' faces: needs their enrolled references
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(OperationKind(k) for k in self.kinds))
        if not self.kinds:
            raise ValueError(f"VFX operation {self.name} performs no job operation")


_UNIT = dict(minimum=0.0, maximum=1.0)

BUILTIN_OPERATIONS: Mapping[str, VfxOperationDef] = {d.name: d for d in (
    VfxOperationDef(
        "deage", (OperationKind.LIKENESS_DEAGE,), "soundstage.vfx.ops.deage:DeageOperation", faces=True,
        description="De-age identified, consented performers (strength = the spec's alteration_amount)."),
    VfxOperationDef(
        "cosmetic", (OperationKind.LIKENESS_COSMETIC,), "soundstage.vfx.ops.cosmetic:CosmeticOperation", faces=True,
        description="Customary cosmetic retouch of identified, consented performers."),
    VfxOperationDef(
        "background", (OperationKind.BACKGROUND_REPLACEMENT, OperationKind.SET_EXTENSION),
        "soundstage.vfx.ops.background:BackgroundOperation", second_input="background",
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
        params=(
            Param("method", "choice", "Inpainting method (a model registered with generative config "
                  "inpaints generatively instead).", "telea", choices=("telea", "ns")),
            Param("radius", "int", "Inpainting radius in pixels.", 5, 1, 50),
        ),
        description="Paint out what the mask covers (white = remove); refuses to erase marks or faces."),
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
