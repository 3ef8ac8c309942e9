"""What the ledger names in the content store: the one rule every removal of stored content obeys.

Content may be removed only while no ledger row names it - ``soundstage gc`` past its grace period
(``services.content_gc``), and the guard at once for what a failed job created itself
(``ContentStore.discard_created``). Both ask ``named_content``.
"""

from __future__ import annotations

from typing import Callable, ContextManager

from sqlalchemy import select
from sqlalchemy.orm import Session

from soundstage.errors import IntegrityError, NotFoundError
from soundstage.store.blobs import ContentStore
from soundstage.store.models import Asset
from soundstage.vfx.sequences import SEQUENCE_MEDIA_TYPE, SequenceIndex

__all__ = ["named_content"]


def named_content(transaction: Callable[[], ContextManager[Session]], store: ContentStore,
                  production_id: str) -> set[str]:
    """Every sha256 the ledger names, read fresh (in a ``transaction()`` of its own): every asset
    row's content (of any production sharing the ledger), the signed C2PA sidecar an asset names in
    its details, and each frame an image sequence's index names (read from ``store``). An index of
    ``production_id`` that cannot be read is an error (nothing may be removed while what it names is
    unknown); one of another production is not in this store."""
    with transaction() as s:
        rows = s.execute(select(Asset.sha256, Asset.media_type, Asset.details, Asset.production_id)).all()
    names: set[str] = set()
    for sha, media_type, details, production in rows:
        names.add(sha)
        sidecar = (details or {}).get("c2pa_sidecar_sha256")
        if isinstance(sidecar, str):
            names.add(sidecar)
        if media_type != SEQUENCE_MEDIA_TYPE:
            continue
        try:
            index = SequenceIndex.from_bytes(store.read_bytes(sha), source=f"sequence index {sha[:12]}…")
        except NotFoundError:
            if production != production_id:
                continue
            raise IntegrityError(f"the index of an image sequence ({sha[:12]}…) is missing from the store; "
                                 "gc removes nothing while it cannot tell which frames the ledger names",
                                 hint="soundstage audit verify shows which asset it is") from None
        names.update(f.sha256 for f in index.frames)
    return names
