"""The store's write side is reachable from the guard alone: a structural check over the source.

The asset store hands its write capability over once; the composition root (services.workspace)
gives it to the guard. Here no other module may take the capability, mint a grant or adopt a
store - so there is no second way to put a file into the store.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "soundstage"

#: the stores themselves: the capability (store/blobs.py) and the two backends that carry it
STORES = {"store/blobs.py", "store/assets.py", "store/s3.py"}

#: name -> the only modules allowed to use it
ALLOWED = {
    "hand_over_write_capability": STORES | {"safeguards/guard.py"},
    "adopt_store": {"safeguards/guard.py", "services/workspace.py"},
    "_grant": {"safeguards/guard.py"},
    "GrantMinter": STORES | {"safeguards/guard.py"},
    "WriteGrant": STORES | {"safeguards/guard.py"},
    "_MINTERS": {"safeguards/guard.py"},
}


def _names(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.name.rsplit(".", 1)[-1])
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.add(node.name)
    return found


def test_only_the_guard_reaches_the_stores_write_side():
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        used = _names(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [f"{rel}: {name}" for name, allowed in ALLOWED.items() if name in used and rel not in allowed]
    assert offenders == []


def test_the_check_would_see_an_offender(tmp_path):
    tree = ast.parse("from soundstage.safeguards import guard\nguard._grant(store, 'x')\n")
    assert "_grant" in _names(tree)
