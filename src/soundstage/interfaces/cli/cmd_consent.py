"""consent - performers' consents on the command line: grant, show, list, revoke, suspend, resume."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from soundstage.interfaces.cli import access, common

consent = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(consent, name="consent", help="Grant, show, revoke and suspend performer consents.")


@consent.command("grant")
def consent_grant(
    performer: str = typer.Argument(..., help="Performer name or id."),
    kind: str = typer.Option(..., "--kind", help="employment_based_replica | independently_created_replica | "
                                                 "background_actor_replica | digital_alteration"),
    operation: list[str] = typer.Option(..., "--operation", "-o", help="Permitted operation kind (repeatable)."),
    description: str = typer.Option(..., "--description", "-d", help="Reasonably specific description of the use."),
    scene: list[str] = typer.Option(None, "--scene", help="Limit to scenes (repeatable; default all)."),
    shot: list[str] = typer.Option(None, "--shot"),
    max_alteration: float = typer.Option(0.5, "--max-alteration", help="0..1"),
    media: list[str] = typer.Option(None, "--media", help="previz, final (default both)."),
    territory: list[str] = typer.Option(None, "--territory"),
    valid_from: str = typer.Option(None, "--from"),
    valid_until: str = typer.Option(None, "--until"),
    signed_separately: bool = typer.Option(False, "--signed-separately",
                                           help="Signed as a separate writing, not buried in boilerplate."),
    representation: str = typer.Option("none", "--representation", help="counsel | union | none (CA AB 2602)"),
    compensation: str = typer.Option("", "--compensation-ref"),
    granted_by: str = typer.Option(None, "--granted-by", help="performer | estate | union"),
    document: Path = typer.Option(None, "--document", help="The signed consent document (stored by hash)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Record a performer's consent for this production, signed with your key (rights clearance,
    legal, or the performer's representative)."""
    from soundstage.services.consent_service import grant_consent
    from soundstage.services.talent_service import show_performer

    with common.open_ws() as ws:
        target = show_performer(ws, performer)
        access.check_scope([target["id"]], f"performer {target['name']}")
        data = grant_consent(ws, target["id"], kind=kind, operations=list(operation), description=description,
                             scenes=list(scene or []), shots=list(shot or []), max_alteration=max_alteration,
                             media=list(media or ["previz", "final"]), territory=list(territory or ["worldwide"]),
                             valid_from=common.iso_date(valid_from, "from"), valid_until=common.iso_date(valid_until, "until"),
                             signed_separately=signed_separately, representation=representation,
                             compensation_ref=compensation, granted_by=granted_by, document=document,
                             actor=common.actor(), signer=common.signer())
    if json_out:
        common.emit_json(data)
        return
    common.console.print(f"consent {data['id']} granted ({consent_state(data)})", markup=False)
    if data.get("missing"):
        common.console.print("it authorises no job until a new consent is granted with "
                             + ", ".join(m["what"] for m in data["missing"]), markup=False)


def consent_state(c: dict, short: bool = False) -> str:
    """A consent's status as people should read it: an active one that lacks a separate signature,
    its document or a specific description is 'NOT YET VALID', with what is missing (``short``:
    the rule ids only, for tables)."""
    if c.get("missing") and c["status"] == "active":
        if short:
            return "NOT YET VALID (missing " + ", ".join(m["rule_id"] for m in c["missing"]) + ")"
        return "NOT YET VALID - missing " + "; ".join(f"{m['what']} ({m['rule_id']})" for m in c["missing"])
    return c["status"]


@consent.command("show")
def consent_show(consent_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.consent_service import show_consent

    with common.open_ws() as ws:
        data = show_consent(ws, consent_id)
    access.check_scope([data["performer_id"]], f"consent {consent_id}")
    common.emit_json(data) if json_out else common.print_kv(data)


@consent.command("list")
def consent_list(performer: str = typer.Option(None, "--performer"),
                 json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.consent_service import list_consents

    with common.open_ws() as ws:
        rows = access.visible(list_consents(ws, performer), lambda c: [c["performer_id"]])
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "performer", "kind", "status", "operations", "until")
    for r in rows:
        table.add_row(r["id"], r["performer_id"], r["kind"], consent_state(r, short=True), ", ".join(r["scope"]["operations"]),
                      str(r["valid_until"] or ""))
    common.console.print(table)


@consent.command("revoke")
def consent_revoke(consent_id: str, reason: str = typer.Option(..., "--reason"),
                   json_out: bool = typer.Option(False, "--json")) -> None:
    """Revoke a consent: every asset derived from it is quarantined and listed with its shot."""
    from soundstage.services.consent_service import revoke_consent

    with common.open_ws() as ws:
        _consent_in_scope(ws, consent_id)
        data = revoke_consent(ws, consent_id, reason=reason, actor=common.actor(), signer=common.signer())
    if json_out:
        common.emit_json(data)
        return
    common.console.print(f"consent {consent_id} revoked; {len(data['quarantined'])} asset(s) quarantined")
    table = Table("asset", "name", "scene", "shot", "job")
    for a in data["quarantined"]:
        table.add_row(a["id"], a["name"], str(a["scene"] or ""), str(a["shot"] or ""), str(a["job"] or ""))
    if data["quarantined"]:
        common.console.print(table)


@consent.command("suspend")
def consent_suspend(consent_id: str, reason: str = typer.Option("strike", "--reason")) -> None:
    """Suspend a consent (e.g. during a strike): it covers no new work until resumed."""
    _set_suspension(consent_id, True, reason)


@consent.command("resume")
def consent_resume(consent_id: str, reason: str = typer.Option("strike ended", "--reason")) -> None:
    """Resume a suspended consent, signed with your key (the same people who may suspend it)."""
    _set_suspension(consent_id, False, reason)


def _set_suspension(consent_id: str, suspended: bool, reason: str) -> None:
    """Suspend and resume are one signed change of one flag (``consent_service.set_suspension``)."""
    from soundstage.services.consent_service import set_suspension

    with common.open_ws() as ws:
        _consent_in_scope(ws, consent_id)
        set_suspension(ws, consent_id, suspended, reason=reason, actor=common.actor(), signer=common.signer())
    common.console.print(f"consent {consent_id} {'suspended' if suspended else 'resumed'}")


def _consent_in_scope(ws, consent_id: str) -> None:
    from soundstage.services.consent_service import show_consent

    access.check_scope([show_consent(ws, consent_id)["performer_id"]], f"consent {consent_id}")
