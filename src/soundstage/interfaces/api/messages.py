"""What a client is told when a request fails: one JSON error shape, and error lines with the
server's folders taken out. Shared by the API (``app``) and the web pages (``interfaces.web``),
so it sits below both."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from fastapi import Request

from soundstage.errors import SoundstageError


def error_body(type_name: str, message: str, status: int, rule_ids: list[str] | None = None) -> dict:
    return {"error": {"type": type_name, "message": message, "rule_ids": list(rule_ids or []), "status": status}}


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/[^\s'\"<>`]*")


def path_roots(workspace_root: Path) -> list[tuple[str, str]]:
    """(server folder, what a client sees instead), longest first: the workspace (paths in it are
    shown relative to it) and the temp dir (paths in it are shown by their file name)."""
    roots: dict[str, str] = {}
    for folder, label in ((tempfile.gettempdir(), "temp"), (str(workspace_root), "workspace")):
        for variant in {os.path.abspath(folder), os.path.realpath(folder)}:
            if variant != "/":
                roots[variant.rstrip("/")] = label
    return sorted(roots.items(), key=lambda item: len(item[0]), reverse=True)


def redact_paths(text: str, roots: list[tuple[str, str]]) -> str:
    """The last line of defence before an error message reaches a client: an absolute path under
    the workspace or the temp dir loses its folders (messages should not name them to begin with)."""
    def replace(match: re.Match) -> str:
        token = match.group(0)
        trail = len(token) - len(token.rstrip(".,;:)]}"))
        path, tail = (token[:-trail], token[-trail:]) if trail else (token, "")
        plain = "/" + path.lstrip("/")
        for root, label in roots:
            if plain == root:
                return f"<{label}>" + tail
            if plain.startswith(root + "/"):
                rest = plain[len(root) + 1:].rstrip("/")
                shown = rest if label == "workspace" else rest.rsplit("/", 1)[-1]
                return (shown or f"<{label}>") + tail
        return token

    return _ABSOLUTE_PATH.sub(replace, text)


def public_message(request: Request, exc: SoundstageError) -> str:
    """An error's one line as a client may see it."""
    return redact_paths(exc.one_line(), request.app.state.path_roots)
