"""Shared CLI plumbing: the workspace option, JSON output, one-line errors, progress bars."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

@dataclass
class _State:
    workspace: Path | None = None
    debug: bool = False


STATE = _State()


def workspace_dir() -> Path:
    return (STATE.workspace or Path.cwd()).expanduser()


@contextmanager
def open_ws() -> Iterator[Any]:
    from soundstage.services.workspace import open_workspace

    ws = open_workspace(workspace_dir())
    try:
        yield ws
    finally:
        ws.close()


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str, ensure_ascii=False) + "\n")


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
