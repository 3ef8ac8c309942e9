"""model - the model registry on the command line."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.table import Table

from soundstage.domain.safeguards import ModelCard
from soundstage.errors import InputError, SpecError
from soundstage.interfaces.cli import common

model = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(model, name="model", help="The model registry: licences and training-data attestations.")


@model.command("add")
def model_add(card: Path = typer.Argument(..., help="Model card YAML: id, name, version, licence, "
                                                    "weights_sha256, training_data, evidence, ..., plus "
                                                    "backend and config (how to run it)."),
              replace: bool = typer.Option(False, "--replace")) -> None:
    """Register a generator or alterer with its licence and training-data attestation."""
    from soundstage.services.models import register_model

    try:
        data = yaml.safe_load(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"model card not found: {card}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}".splitlines()[0], source=str(card)) from None
    if not isinstance(data, dict):
        raise SpecError("a model card is a mapping of fields", source=str(card))
    backend = data.pop("backend", None)
    config = data.pop("config", None) or {}
    mc = ModelCard.from_dict(data)
    with common.open_ws() as ws:
        register_model(ws, mc, actor=common.actor(), replace_existing=replace, backend=backend, config=config)
    common.console.print(f"model {mc.id} registered (training data: {mc.training_data})")


@model.command("list")
def model_list(json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.models import list_models

    with common.open_ws() as ws:
        rows = list_models(ws)
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "licence", "training data", "stores inputs", "trains on inputs", "in our environment",
                  "trained")
    for r in rows:
        # a card recorded without these fields said nothing: shown (and decided) as the unsafe case
        table.add_row(r["id"], r["licence"], r["training_data"], str(r.get("stores_inputs", True)),
                      str(r.get("trains_on_inputs", True)), str(r["runs_in_production_env"]), str(r["trained_model"]))
    common.console.print(table)
