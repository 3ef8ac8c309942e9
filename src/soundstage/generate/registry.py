"""Find generators by model id: built-ins and third-party plugins register the same way.

Listing never imports a backend; ``get_generator`` imports exactly one, on first use.
Third-party backends declare an entry point in the ``soundstage.generators`` group:
``[project.entry-points."soundstage.generators"] "acme.fluxlocal" = "acme_soundstage:FluxGenerator"``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points

from soundstage.errors import NotFoundError, SpecError
from soundstage.generate.protocol import Generator

ENTRY_POINT_GROUP = "soundstage.generators"

BUILTINS: dict[str, str] = {
    "soundstage.procedural-card": "soundstage.generate.backends.procedural:ProceduralCardGenerator",
    "soundstage.retouch": "soundstage.generate.backends.retouch:RetouchAlterer",
}


@lru_cache(maxsize=1)
def available() -> dict[str, str]:
    """model id -> "module:attribute", built-ins first; plugins cannot shadow a built-in."""
    found = dict(BUILTINS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def get_generator(model_id: str) -> Generator:
    target = available().get(model_id)
    if target is None:
        raise NotFoundError(f"no generator backend for model {model_id!r}",
                            hint="installed: " + ", ".join(sorted(available())))
    module_name, _, attr = target.partition(":")
    try:
        factory = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"generator {model_id!r} cannot be loaded from {target}: {exc}") from exc
    backend = factory()
    if not isinstance(backend, Generator):
        raise SpecError(f"generator {model_id!r} ({target}) does not implement the Generator protocol")
    return backend
