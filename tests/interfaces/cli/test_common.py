"""The CLI's shared printing (interfaces/cli/common.py): what a client named - an asset's file
name, a detail - is printed as it is, never read as Rich markup. "take[/]2.wav" is a legal file
name (it crashed ``asset show`` with a MarkupError), and a "[link=...]" name must not turn into a
terminal hyperlink that shows other words than the name."""

from __future__ import annotations

import io

from rich.console import Console

from soundstage.interfaces.cli import common


def test_print_kv_prints_client_text_literally(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=out, width=400, highlight=False, color_system=None))
    hostile = {"name": "take[/]2.wav", "note": "[link=https://evil.example]clean.wav[/link]",
               "[bold]key[/bold]": "[red]x"}
    common.print_kv(hostile)
    lines = out.getvalue().splitlines()
    assert lines == ["name: take[/]2.wav", "note: [link=https://evil.example]clean.wav[/link]",
                     "[bold]key[/bold]: [red]x"]
