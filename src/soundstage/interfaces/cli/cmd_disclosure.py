"""disclosure - the GenAI disclosure report."""

from __future__ import annotations

from pathlib import Path

import typer

from soundstage.interfaces.cli import common

disclosure = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(disclosure, name="disclosure", help="GenAI disclosure report (HTML, PDF, JSON) and credits notice.")


@disclosure.command("report")
def disclosure_report(out: Path = typer.Option(None, "--out", "-o", help="Default: WORKSPACE/exports/disclosure."),
                      fmt: list[str] = typer.Option(None, "--format", "-f", help="json, html, pdf"),
                      episode: str = typer.Option(None, "--episode"),
                      sign_off: str = typer.Option(None, "--sign-off", help="Role that signs the report off, "
                                                   "e.g. legal (signature lines in the PDF)."),
                      sign_off_person: str = typer.Option(None, "--sign-off-person", help="Crew member holding "
                                                          "that role (default: its only holder).")) -> None:
    """Every GenAI use, its model and data attestation, consents, approvals, watermark ids, quarantine.

    Prepared by the person running it (their credential); states the audit head it was built from."""
    from soundstage.services.disclosure_service import write_disclosure_report

    with common.open_ws() as ws:
        target = out or ws.settings.exports_dir / "disclosure"
        paths, head = write_disclosure_report(ws, target, list(fmt or ["json", "html", "pdf"]), episode=episode,
                                              actor=common.actor(), sign_off_role=sign_off,
                                              sign_off_person=sign_off_person)
    for p in paths:
        common.console.print(str(p))
    common.console.print(f"prepared by {common.actor()}; built from audit event #{head['seq']} "
                         f"(hash {head['hash']}); check it with 'audit verify' and 'audit log'")
