"""talent | crew - performers and crew on the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from soundstage.interfaces.cli import access, common
from soundstage.interfaces.cli.cmd_consent import consent_state

talent = typer.Typer(no_args_is_help=True)
crew = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(talent, name="talent", help="Performers: register, show, represent, enrol a reference face.")
    app.add_typer(crew, name="crew", help="Crew and their approval roles.")


@talent.command("add")
def talent_add(
    name: str = typer.Argument(...),
    union: str = typer.Option("non-union", "--union", help="Union status, e.g. sag-aftra."),
    deceased: bool = typer.Option(False, "--deceased"),
    died: str = typer.Option(None, "--died", help="Date of death (ISO)."),
    authority: str = typer.Option(None, "--consent-authority", help="performer | estate | union"),
    rep: list[str] = typer.Option(None, "--rep", help="Representative (crew name or id, role performer_rep)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Register a performer (deceased performers' consent comes from their estate or the union)."""
    from soundstage.services.talent_service import add_performer

    with common.open_ws() as ws:
        data = add_performer(ws, name, union_status=union, living=not deceased, died_at=common.iso_date(died, "died"),
                             consent_authority=authority, representatives=rep or [], actor=common.actor())
    common.emit_json(data) if json_out else common.console.print(f"performer {data['id']}: {data['name']}")


@talent.command("show")
def talent_show(ref: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """A performer with their consents."""
    from soundstage.services.talent_service import show_performer

    with common.open_ws() as ws:
        data = show_performer(ws, ref)
    access.check_scope([data["id"]], f"performer {data['name']}")
    if json_out:
        common.emit_json(data)
        return
    consents = data.pop("consents")
    common.print_kv(data)
    for c in consents:
        common.console.print(f"  consent {c['id']}: {c['kind']} [{consent_state(c)}] "
                             f"ops={','.join(c['scope']['operations'])} until={c['valid_until']}", markup=False)


@talent.command("represent")
def talent_represent(performer: str = typer.Argument(..., help="Performer (name or id)."),
                     by: str = typer.Option(..., "--by", help="Crew member with the performer_rep role "
                                                             "(name or id)."),
                     json_out: bool = typer.Option(False, "--json")) -> None:
    """Put a representative on file for a performer (agent, counsel, the estate's or union's rep):
    they then approve and revoke for that performer."""
    from soundstage.services.talent_service import add_representative

    with common.open_ws() as ws:
        data = add_representative(ws, performer, by, actor=common.actor())
    if json_out:
        common.emit_json(data)
        return
    common.console.print(f"performer {data['id']}: {data['name']} represented by "
                         f"{', '.join(data['representative_names'])}")


@talent.command("list")
def talent_list(json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.people_service import list_people

    with common.open_ws() as ws:
        rows = access.visible(list_people(ws, "performer"), lambda p: [p["id"]])
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "name", "union", "living", "consent authority", "reference")
    for r in rows:
        p = r.get("performer", {})
        table.add_row(r["id"], r["name"], p.get("union_status", ""), str(p.get("living", "")),
                      p.get("consent_authority", ""), r.get("reference_asset") or "")
    common.console.print(table)


@talent.command("enroll")
def talent_enroll(ref: str, image: Path = typer.Argument(..., help="Reference face image."),
                  json_out: bool = typer.Option(False, "--json")) -> None:
    """Enrol a reference face image (needs an active consent; revoking it quarantines the image)."""
    from soundstage.services.talent_service import enroll_reference, show_performer

    with common.open_ws() as ws:
        target = show_performer(ws, ref)
        access.check_scope([target["id"]], f"performer {target['name']}")
        data = enroll_reference(ws, target["id"], image, actor=common.actor())
    common.emit_json(data) if json_out else common.console.print(f"reference enrolled as asset {data['asset']}")


@crew.command("add")
def crew_add(name: str, role: list[str] = typer.Option(..., "--role", "-r",
                                                      help="producer, vfx_supervisor, rights_clearance, legal, "
                                                           "performer_rep (repeatable)"),
             json_out: bool = typer.Option(False, "--json")) -> None:
    """Add a crew member with approval roles."""
    from soundstage.services.people_service import add_crew

    with common.open_ws() as ws:
        data = add_crew(ws, name, list(role), actor=common.actor())
    common.emit_json(data) if json_out else common.console.print(f"crew {data['id']}: {name} ({', '.join(role)})")


@crew.command("list")
def crew_list(json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.people_service import list_people

    me = common.principal()
    with common.open_ws() as ws:
        rows = [p for p in list_people(ws, "crew") if not access.is_scoped_rep(me) or p["id"] == me.person_id]
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "name", "roles")
    for r in rows:
        table.add_row(r["id"], r["name"], ", ".join(r["roles"]))
    common.console.print(table)
