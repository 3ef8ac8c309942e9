"""The model registry: the cards of the models a production may use, and how to run each.

Below the other services: ``workspace.init_workspace`` registers the built-in backends when it
creates a production; the CLI, the API and the other services call it directly. Nothing here
imports the workspace module at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from soundstage.clock import utcnow
from soundstage.domain.safeguards import ModelCard
from soundstage.errors import AlreadyExistsError, SpecError
from soundstage.generate.registry import BUILTIN_MODELS, available, get_generator
from soundstage.safeguards import audit
from soundstage.store.models import ModelRecord

if TYPE_CHECKING:
    from soundstage.services.workspace import Workspace



def register_model(ws: Workspace, card: ModelCard, *, actor: str, replace_existing: bool = False,
                   backend: str | None = None, config: dict | None = None) -> dict:
    """Record a model card (and how to run it). An unknown training-data attestation is allowed
    here; the policy engine decides what such a model may be used for. Every text field is bounded
    (``ModelCard.check_sizes``): the card is copied into reports, audit events and credentials."""
    card.check_sizes()
    backend = backend or BUILTIN_MODELS.get(card.id)
    secret_keys = [k for k in (config or {}) if any(w in k.lower() for w in ("key", "token", "password", "secret"))
                   and not k.lower().endswith(("_env", "_sha256"))]
    if secret_keys:
        raise SpecError("secrets never go into the model registry (it is copied into reports and audit events)",
                        field=f"config.{secret_keys[0]}", hint="name an environment variable instead, e.g. api_key_env")
    if backend is not None and backend not in available():
        raise SpecError(f"unknown backend {backend!r}", field="backend",
                        hint="installed: " + ", ".join(sorted(available())))
    data = {**card.to_dict(), "backend": backend, "config": dict(config or {})}
    with ws.unit_of_work() as s:
        existing = s.get(ModelRecord, card.id)
        if existing is not None and not replace_existing:
            raise AlreadyExistsError(f"model {card.id!r} is already registered",
                                     hint="use --replace to record a new card (the old one stays in the audit log)")
        if existing is None:
            s.add(ModelRecord(id=card.id, production_id=ws.production_id, data=data, created_at=utcnow()))
        else:
            existing.data = data
        s.flush()
        audit.append(s, production_id=ws.production_id, actor=actor, action="model.registered", subject=card.id,
                     payload=data)
        return data


def register_builtin_models(ws: Workspace, *, actor: str = "soundstage") -> list[str]:
    """Built-in backends are registered like any other model: the registry has no blind spots."""
    done = []
    for model_id in BUILTIN_MODELS:
        with ws.unit_of_work() as s:
            if s.get(ModelRecord, model_id) is not None:
                continue
        register_model(ws, get_generator(model_id).model_card(), actor=actor)
        done.append(model_id)
    return done


def list_models(ws: Workspace) -> list[dict]:
    with ws.reading() as s:
        return [r.data for r in s.scalars(select(ModelRecord).where(
            ModelRecord.production_id == ws.production_id).order_by(ModelRecord.id))]
