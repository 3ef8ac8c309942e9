"""audit log | verify | head"""

from __future__ import annotations

import typer
from rich.table import Table

from soundstage.errors import IntegrityError
from soundstage.interfaces.cli import common

app = typer.Typer(no_args_is_help=True)


@app.command("log")
def log(
    limit: int = typer.Option(50, "--limit", "-n", help="Newest N events (0 = all)."),
    action: str = typer.Option(None, "--action", help="Filter by action, '*' wildcard (e.g. 'asset.*')."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Show audit events, oldest first."""
    from soundstage.services.ledger import audit_log

    with common.open_ws() as ws:
        events = audit_log(ws, limit or None, action)
    if json_out:
        common.emit_json(events)
        return
    table = Table("#", "when (UTC)", "actor", "action", "subject")
    for e in events:
        table.add_row(str(e["seq"]), e["at"][:19], e["actor"], e["action"], e["subject"])
    common.console.print(table)


@app.command("verify")
def verify(json_out: bool = typer.Option(False, "--json")) -> None:
    """Check the hash chain; names the first edited, deleted, inserted or reordered event."""
    from soundstage.services.ledger import verify_audit

    with common.open_ws() as ws:
        report = verify_audit(ws)
    if json_out:
        common.emit_json(report.to_dict())
        if not report.ok:
            raise typer.Exit(1)
        return
    if not report.ok:
        raise IntegrityError(f"audit log broken at event #{report.first_bad_seq}: {report.problem}")
    common.console.print(f"audit log intact: {report.events} events, chain verified")


@app.command("head")
def head(json_out: bool = typer.Option(False, "--json")) -> None:
    """Print the last event's sequence number and hash (keep a copy elsewhere to anchor the log)."""
    from soundstage.services.ledger import audit_head

    with common.open_ws() as ws:
        data = audit_head(ws)
    if json_out:
        common.emit_json(data)
    else:
        common.console.print(f"{data['seq']} {data['hash']}")
