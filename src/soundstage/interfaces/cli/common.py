"""Shared CLI plumbing: the workspace option, who is acting, JSON output, one-line errors, progress bars."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from soundstage.errors import AlreadyExistsError, InputError, PermissionDeniedError, SpecError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

@dataclass
class _State:
    workspace: Path | None = None
    debug: bool = False
    token_file: Path | None = None
    # set by access.authorized for the length of one command
    ws: Any = None          # the workspace the command authenticated against
    principal: Any = None   # the person running it (auth_service.Principal)
    token: str | None = None  # their credential, kept only to sign with; dropped when the command ends


STATE = _State()


def workspace_dir() -> Path:
    return (STATE.workspace or Path.cwd()).expanduser()


@contextmanager
def open_ws() -> Iterator[Any]:
    """The running command's workspace (the one it authenticated against), or a fresh one."""
    if STATE.ws is not None:
        yield STATE.ws
        return
    from soundstage.services.workspace import open_workspace

    ws = open_workspace(workspace_dir())
    try:
        yield ws
    finally:
        ws.close()


def principal() -> Any:
    """The authenticated person running this command (access.authorized put them here)."""
    if STATE.principal is None:
        raise RuntimeError("this command ran without authentication (is it in interfaces/cli/access.py?)")
    return STATE.principal


def actor() -> str:
    """Who the audit log names: the authenticated person (``single-user:<login>`` in that mode)."""
    return principal().name


def signer() -> Any:
    """The running person's signing key, derived from their credential for this command only."""
    from soundstage.services.auth_service import signer_for_token

    who = principal()
    if who.single_user or STATE.token is None:
        raise PermissionDeniedError(f"{who.name}: single-user mode has no key and cannot sign approvals, consents "
                                    "or credentials", hint="use your credential (SOUNDSTAGE_TOKEN or --token-file)")
    return signer_for_token(STATE.ws, STATE.token, who)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str, ensure_ascii=False) + "\n")


def report_submitted(result: dict, as_json: bool) -> None:
    """What a command that submits a job prints (``vfx ...``, ``voice ...``): the JSON, or each
    output asset and where a queued job is; then the outcome's exit (a denial or a wait exits 1)."""
    from soundstage.services.jobs_service import raise_for_outcome  # services stay lazy in the CLI (ruff.toml)

    if as_json:
        emit_json(result)
    raise_for_outcome(result)
    if not as_json:
        for asset in result["assets"]:
            console.print(f"[green]done[/] {result['job']}: asset {asset['id']} {asset['name']}")
        if result["status"] == "queued":
            console.print(f"queued {result['job']}: a worker runs it (soundstage job show {result['job']})")


def err(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True) \
        if sys.stderr.isatty() else sys.stderr.write(f"error: {message}\n")


def progress(transient: bool = True) -> Progress:
    """A progress bar on stderr (stdout stays clean for --json and pipes)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=not sys.stderr.isatty(),
    )


def write_secret(path: Path, text: str) -> None:
    """A new owner-only file (never over an existing one, never through a symlink)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise AlreadyExistsError(f"{path} already exists", hint="name a new file") from None
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def iso_date(value: str | None, field: str) -> datetime | None:
    """A date or date-time option (ISO 8601), or None; a one-line error names the option."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SpecError(f"not an ISO date/time: {value!r} (e.g. 2026-12-31 or 2026-12-31T18:00)",
                        field=field) from None


def print_kv(data: dict) -> None:
    """`key: value` lines; keys and values printed as they are (a name like "take[/]2.wav" is not markup)."""
    for key, value in data.items():
        console.print(f"[bold]{escape(str(key))}:[/] {escape(str(value))}")
