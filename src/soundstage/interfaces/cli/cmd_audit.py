"""audit log | verify | head | checkpoint"""

from __future__ import annotations

from pathlib import Path

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
def verify(
    deep: bool = typer.Option(False, "--deep", help="Re-hash every stored file (default: present, right size)."),
    checkpoint: list[Path] = typer.Option(None, "--checkpoint", metavar="FILE", help=(
        "A signed checkpoint (repeatable): the log must still hold the event it vouches for, with its hash.")),
    witness: list[Path] = typer.Option(None, "--witness", metavar="FILE", help=(
        "A delivered file (repeatable): the audit head signed into its Content Credentials is checked the same way.")),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Check the hash chain (names the first edited, deleted, inserted or reordered event), then
    replay it and prove the ledger's rows are the state it describes, and keys/ holds the signing
    keys it records: one line per row or certificate that differs."""
    from soundstage.services.keys_service import with_signing_keys
    from soundstage.services.ledger import verify_audit

    with common.open_ws() as ws:
        report = with_signing_keys(ws, verify_audit(ws, deep=deep))
        anchors = _check_anchors(ws, checkpoint, witness)
    if json_out:
        common.emit_json({**report.to_dict(), "anchors": anchors} if anchors else report.to_dict())
        if not report.ok or not all(a["ok"] for a in anchors):
            raise typer.Exit(1)
        return
    if not report.chain.ok:
        raise IntegrityError(f"audit log broken at event #{report.first_bad_seq}: {report.problem}")
    _print_anchors(anchors)
    state = report.state
    for difference in state.differences:
        common.console.print(difference.message(), markup=False, soft_wrap=True)
    for row in state.unprovable[:UNPROVABLE_SHOWN]:
        common.console.print(row.message(), markup=False, soft_wrap=True)
    if len(state.unprovable) > UNPROVABLE_SHOWN:
        common.console.print(f"… and {len(state.unprovable) - UNPROVABLE_SHOWN} more rows unprovable "
                             "(written before state proof)", markup=False)
    if state.differences:
        n = len(state.differences)
        raise IntegrityError(f"{n} ledger row{'s' if n != 1 else ''} differ{'s' if n == 1 else ''} from the state the "
                             f"audit log describes (listed above); the chain itself is intact ({report.events} events)")
    unprovable = f"; {len(state.unprovable)} unprovable (written before state proof)" if state.unprovable else ""
    common.console.print(f"audit log intact: {report.events} events, chain verified; ledger state proven: "
                         f"{state.rows} rows and {state.files} stored files{' (re-hashed)' if deep else ''} "
                         f"are what it describes{unprovable}")


UNPROVABLE_SHOWN = 20


def _check_anchors(ws, checkpoints: list[Path] | None, witnesses: list[Path] | None) -> list[dict]:
    if not checkpoints and not witnesses:
        return []
    from soundstage.services.audit_anchor import check_anchors

    return check_anchors(ws, checkpoints or [], witnesses or [])


def _print_anchors(anchors: list[dict]) -> None:
    """One line per anchor that holds; a rebuilt or rewound chain (or an anchor that cannot be
    believed) is an IntegrityError naming the first problem."""
    failed = [a for a in anchors if not a["ok"]]
    for a in anchors:
        if a["ok"]:
            stamped = f" (time-stamped {a['time_stamped_at']})" if a.get("time_stamped_at") else ""
            common.console.print(f"{a['kind']} {Path(a['file']).name}: event #{a['seq']} still has the signed hash"
                                 + stamped, markup=False)
    for a in failed[1:]:
        common.console.print(a["problem"], markup=False, soft_wrap=True)
    if failed:
        more = f" (and {len(failed) - 1} more, listed above)" if len(failed) > 1 else ""
        raise IntegrityError(failed[0]["problem"] + more)


@app.command("checkpoint")
def checkpoint_cmd(
    out: Path = typer.Option(None, "--out", metavar="FILE", help="Where to write it (default: exports/)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Sign the audit head (seq + hash) with the production key into a small checkpoint file to keep
    elsewhere; `audit verify --checkpoint FILE` then detects a rebuilt or rewound chain. Not
    time-stamped: soundstage has no RFC 3161 time-stamp client yet."""
    from soundstage.services.audit_anchor import write_checkpoint

    with common.open_ws() as ws:
        data = write_checkpoint(ws, out, actor=common.actor())
    if json_out:
        common.emit_json(data)
        return
    common.console.print(f"checkpoint of event #{data['seq']} ({data['hash'][:16]}…) signed by {data['signer']}: "
                         f"{data['file']}", markup=False, soft_wrap=True)
    stamped = (f"time-stamped by {data['tsa']} at {data['time_stamped_at']}" if data.get("timestamped")
               else "not time-stamped (no [provenance] tsa_url in soundstage.toml)")
    common.console.print(f"keep a copy outside this workspace; {stamped}", markup=False, soft_wrap=True)


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
