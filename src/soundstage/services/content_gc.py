"""The content store's garbage collection: stored content no ledger row names, past a grace period.

A unit of work that fails leaves the content it stored (a concurrent unit may have found the same
content and committed a row naming it: DR010); so does a process killed between storing and
committing. ``gc_content`` lists that content once it is older than the grace period, and with
``delete`` removes it, through the store's ``collect_garbage`` (the local folder's or the bucket's),
which moves each file or object aside and reads the ledger again before removing it. ``soundstage gc`` lists it beside
the work area's leftovers (``queue_service.gc_work_area``).

What the ledger names: every asset row's content (of any production sharing the ledger), the signed
C2PA sidecar an asset names in its details, and each frame an image sequence's index names
(``store.named``, which the guard asks too when it removes what a failed job stored).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from soundstage.services.queue_service import GcEntry
from soundstage.services.workspace import Workspace
from soundstage.store import named
from soundstage.store.blobs import GC_GRACE

__all__ = ["gc_content", "named_content", "GC_GRACE"]


def named_content(ws: Workspace) -> set[str]:
    """Every sha256 the ledger names, read fresh (``store.named.named_content``: the rule the guard's
    removal of a failed job's outputs obeys too): asset contents, their signed sidecars, the frames
    of image sequences."""
    return named.named_content(ws.db.transaction, ws.store, ws.production_id)


def gc_content(ws: Workspace, *, delete: bool = False, older_than: timedelta = GC_GRACE,
               now: datetime | None = None) -> list[GcEntry]:
    """Stored content no ledger row names, last written or reused longer than ``older_than`` ago
    (kind "content"), on either backend; ``delete`` removes it. ``now``: the store's clock (its own
    by default: the bucket's is the server's)."""
    found = ws.store.collect_garbage(lambda: named_content(ws), older_than=older_than, delete=delete, now=now)
    return [GcEntry(item.path, None, "unnamed", "content", item.size,
                    f"no ledger row names it; last written or reused {item.age_seconds / 3600:.0f} h ago")
            for item in found]
