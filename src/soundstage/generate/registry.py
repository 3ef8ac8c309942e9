"""Find a backend for a model: built-ins and third-party plugins register the same way.

Two tables, both data. ``BACKENDS`` maps a backend name to the class implementing it; a model
record in the registry names its backend and its configuration (e.g. the local weights
directory). ``BUILTIN_MODELS`` are the models every production has from ``init``.

Listing never imports a backend; ``get_generator`` imports exactly one, on first use.
Third-party backends declare an entry point in the ``soundstage.backends`` group:
``[project.entry-points."soundstage.backends"] "acme-flux" = "acme_soundstage:FluxGenerator"``.
A backend class is constructed as ``Backend(model_id=..., config={...})``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Mapping

from soundstage.domain.params import SEED, Param
from soundstage.errors import NotFoundError, SpecError
from soundstage.generate.protocol import Generator

ENTRY_POINT_GROUP = "soundstage.backends"

BACKENDS: dict[str, str] = {
    "procedural-card": "soundstage.generate.backends.procedural:ProceduralCardGenerator",
    "retouch": "soundstage.generate.backends.retouch:RetouchAlterer",
    "blender": "soundstage.previz.renderer:BlenderRenderer",
    "diffusers": "soundstage.generate.backends.diffusers_local:DiffusersGenerator",
    "comfyui": "soundstage.generate.backends.comfyui_http:ComfyUIGenerator",
    "openai-images": "soundstage.generate.backends.openai_images:OpenAIImagesGenerator",
    "diffusers-video": "soundstage.generate.backends.diffusers_video:DiffusersVideoGenerator",
    "openai-video": "soundstage.generate.backends.openai_video:OpenAIVideoGenerator",
    "vfx": "soundstage.vfx.backend:VfxOperationBackend",
    "animatic": "soundstage.previz.animatic:AnimaticBackend",
    "voice": "soundstage.voice.job:VoiceGenerator",  # engines: soundstage.voice.registry (DR018)
    "openai-chat": "soundstage.generate.backends.openai_chat:OpenAIChatBreakdown",  # breakdown assist (DR022)
}

# model id -> backend; registered in every production at init (no weights, nothing to download)
BUILTIN_MODELS: dict[str, str] = {
    "soundstage.procedural-card": "procedural-card",
    "soundstage.retouch": "retouch",
    "soundstage.animatic": "animatic",
    "soundstage.vfx-classical": "vfx",
    "soundstage.blender-blocking": "blender",
}


@lru_cache(maxsize=1)
def available() -> dict[str, str]:
    """backend name -> "module:Class", built-ins first; plugins cannot shadow a built-in."""
    found = dict(BACKENDS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def get_generator(model_id: str, backend: str | None = None, config: Mapping[str, Any] | None = None) -> Generator:
    backend = backend or BUILTIN_MODELS.get(model_id)
    if backend is None:
        raise NotFoundError(f"model {model_id!r} names no backend",
                            hint="register it with a 'backend:' field (one of: " + ", ".join(sorted(available())) + ")")
    target = available().get(backend)
    if target is None:
        raise NotFoundError(f"no backend {backend!r} for model {model_id!r}",
                            hint="installed: " + ", ".join(sorted(available())))
    module_name, _, attr = target.partition(":")
    try:
        factory = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"backend {backend!r} cannot be loaded from {target}: {exc}") from exc
    instance = factory(model_id=model_id, config=dict(config or {}))
    if not isinstance(instance, Generator):
        raise SpecError(f"backend {backend!r} ({target}) does not implement the Generator protocol")
    return instance


def declared_operations(generator: Generator) -> Mapping[str, tuple[Param, ...]]:
    """job operation ("*": any) -> the parameters the backend declares for it."""
    table = generator.operations() if hasattr(generator, "operations") else getattr(generator, "OPERATIONS", None)
    if not isinstance(table, Mapping):
        raise SpecError(f"backend for model {generator.model_id!r} declares no operations",
                        hint="a backend lists its operations and their parameters in OPERATIONS "
                             "(docs/guides/write-a-generator.md)")
    return table


def operation_params(generator: Generator, operation: str) -> tuple[Param, ...]:
    """The parameters a job running ``operation`` on this backend may set (the seed always)."""
    table = declared_operations(generator)
    declared = table.get(operation, table.get("*"))
    if declared is None:
        raise SpecError(f"model {generator.model_id!r} does not perform {operation}", field="operation",
                        hint="it performs: " + ", ".join(sorted(table)))
    names = {p.name for p in declared}
    return tuple(declared) if "seed" in names else (*declared, SEED)
