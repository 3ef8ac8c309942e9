"""What every content store is, whatever holds its bytes: the write capability, the interface, and
the digest checks the backends share.

A content store keeps files named by the SHA-256 of their bytes and never overwrites one. Two
backends implement ``ContentStore``: the local folder (``store.assets.AssetStore``, the default)
and S3-compatible object storage (``store.s3.S3Store``). Both are born with their write capability
(a ``GrantMinter``) and hand it over exactly once, to the guard; ``put_*`` refuses anything but a
fresh grant minted by that store's own minter. Nothing here imports from the layers above.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import deque
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager, Iterator, Protocol, Sequence, runtime_checkable

from soundstage.errors import IntegrityError, NotFoundError, RefusedError
from soundstage.files import atomic_path

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class WriteGrant:
    """Permission to store one file for one guarded job; minted only by the store's ``GrantMinter``
    and good for one write."""

    __slots__ = ("job_id", "_minter", "_used")

    def __init__(self, job_id: str, *, _minter: "GrantMinter | None" = None) -> None:
        self.job_id = job_id
        self._minter = _minter
        self._used = False


class GrantMinter:
    """A store's write capability. Whoever holds it can mint grants for that store only."""

    __slots__ = ()

    def grant(self, job_id: str) -> WriteGrant:
        return WriteGrant(job_id, _minter=self)


class GuardedWrites:
    """The capability half of every store: a private minter, handed over once; ``_accept`` spends
    a grant or refuses the write."""

    def __init__(self) -> None:
        self.__minter = GrantMinter()
        self.__handed_over = False

    def hand_over_write_capability(self) -> GrantMinter:
        """The store's minter, given once (to the guard, by the composition root); never again."""
        if self.__handed_over:
            raise RefusedError("this store's write capability was already handed over",
                               hint="only the guard writes to the asset store")
        self.__handed_over = True
        return self.__minter

    def _accept(self, grant: WriteGrant) -> None:
        if not isinstance(grant, WriteGrant) or grant._minter is not self.__minter:
            raise RefusedError("the asset store accepts writes only from the guarded path",
                               hint="produce assets through soundstage.safeguards.guard")
        if grant._used:
            raise RefusedError(f"write grant for {grant.job_id} was already used; a grant stores one file")
        grant._used = True


#: how many blobs left for gc a store remembers (``NewBlobs.left_for_gc``): a long-running server's
#: failed units must not grow it without end
LEFT_FOR_GC_KEPT = 10_000


class NewBlobs:
    """What each unit of work created in a store, kept apart per unit (a ContextVar: each thread and
    each task sees its own list inside ``unit()``), so one request's rollback never
    forgets what a concurrent request created. Outside any unit (a store used on its own) one list."""

    def __init__(self) -> None:
        self._var: ContextVar[list | None] = ContextVar(f"soundstage-new-blobs-{id(self)}", default=None)
        self._outside: list = []
        self._left: deque = deque(maxlen=LEFT_FOR_GC_KEPT)
        self._lock = threading.Lock()

    def _current(self) -> list:
        current = self._var.get()
        return self._outside if current is None else current

    @contextmanager
    def unit(self) -> Iterator[None]:
        outer = self._var.get()
        self._var.set([])
        try:
            yield
        finally:  # set, not reset: a generator's unit may end in another context than it began
            self._var.set(outer)

    def add(self, item: Any) -> None:
        self._current().append(item)

    def take(self) -> list:
        """This unit's new blobs, and forget them (commit or rollback happened)."""
        current = self._current()
        items = list(current)
        current.clear()
        return items

    def leave_for_gc(self) -> None:
        """The unit failed: its new blobs stay in the store for a gc (never deleted then: a concurrent
        unit may have found the same content and committed a row naming it, DR010); recorded in
        ``left_for_gc``."""
        items = self.take()
        with self._lock:
            self._left.extend(items)

    @property
    def left_for_gc(self) -> list:
        """What failed units left for gc in this process, oldest first (the last LEFT_FOR_GC_KEPT: a
        record for people and tests; gc itself finds every unnamed blob by scanning)."""
        with self._lock:
            return list(self._left)

    def settled(self, items: list) -> None:
        """These were removed after all (``ContentStore.discard_created``): no longer left for gc."""
        gone = set(items)
        with self._lock:
            kept = [item for item in self._left if item not in gone]
            self._left.clear()
            self._left.extend(kept)


@dataclass
class StoredBlob:
    sha256: str
    size: int
    path: Path | None  # the local file, when the backend keeps one (the S3 backend: None)
    created: bool  # False when identical content was already stored
    #: how the backend knows the content as this write created it, to tell later whether any unit
    #: reused it since (``ContentStore.discard_created``); None: not created by this write, or created
    #: in a way the backend cannot vouch it alone did
    birth: Any = field(default=None, compare=False, repr=False)


#: how long content no ledger row names is left before ``collect_garbage`` may remove it: longer than
#: any unit of work (the longest store many files in one transaction - a sequence ingest, a job's
#: registration - at 1.3-2.4 s per GB here), so a unit that created or reused it has committed
#: or failed by then (DR010)
GC_GRACE = timedelta(hours=24)
#: the shortest grace a caller may ask for
GC_GRACE_MIN = timedelta(hours=1)


@dataclass(frozen=True)
class Unnamed:
    """Stored content no ledger row names, older than the grace period: what ``collect_garbage`` lists."""

    sha256: str
    size: int
    path: Path | str  # the folder's file, or the object's s3:// URL
    age_seconds: float  # since it was last written or reused


@runtime_checkable
class ContentStore(Protocol):
    """The one storage interface: content addressed by SHA-256, written only with a guard's grant.

    Reads always end in a hash check: ``verify`` re-hashes the authoritative copy (the folder's
    file, the bucket's object); ``path_for`` gives a local file path for libraries that need one
    (OpenCV, PyAV, Blender) - the folder's own file, or a verified copy in the S3 backend's
    read-through cache; ``iter_verified`` / ``export_to`` / ``read_bytes`` never hand out bytes that
    do not match. ``unit`` / ``commit_new`` / ``forget_new`` are the ledger transaction's hooks: what a
    failed unit of work created is never deleted then, but left for a gc that removes only content no
    ledger row names, past a grace period (see DR010); each unit sees only its own new blobs
    (``NewBlobs``). ``discard_created`` is that gc's rule applied at once to content one failed piece
    of work created itself, with its own write as the cutoff instead of the grace: removed only when
    no ledger row names it and no unit has reused it since (the guard, for a failed job's outputs)."""

    location: str  # for people: "folder /…/assets" or "s3://bucket/prefix at endpoint"

    def hand_over_write_capability(self) -> GrantMinter: ...

    def put_stream(self, stream: BinaryIO, grant: WriteGrant, *,
                   expected_sha256: str | None = None) -> StoredBlob: ...

    def put_file(self, path: Path, grant: WriteGrant, *, expected_sha256: str | None = None) -> StoredBlob: ...

    def put_bytes(self, data: bytes, grant: WriteGrant, *, expected_sha256: str | None = None) -> StoredBlob: ...

    def path_for(self, sha256: str) -> Path: ...

    def read_bytes(self, sha256: str) -> bytes: ...

    def verify(self, sha256: str) -> None: ...

    def iter_verified(self, sha256: str, *, chunk_size: int = CHUNK) -> Iterator[bytes]: ...

    def export_to(self, sha256: str, target: Path) -> Path: ...

    def exists(self, sha256: str) -> bool: ...

    def stored_size(self, sha256: str) -> int | None: ...

    def iter_stored(self) -> Iterator[tuple[str, int]]: ...

    def scratch_dir(self) -> Path: ...

    def check_reachable(self) -> None: ...

    def unit(self) -> ContextManager[None]: ...

    def commit_new(self) -> None: ...

    def forget_new(self) -> None: ...

    def collect_garbage(self, named: Callable[[], set[str]], *, older_than: timedelta = GC_GRACE,
                        delete: bool = False, now: datetime | None = None) -> list[Unnamed]: ...

    def discard_created(self, blobs: Sequence[StoredBlob], named: Callable[[], set[str]]) -> list[str]: ...


def check_sha256(sha256: object) -> str:
    """``sha256`` if it is a lowercase hex SHA-256 digest; NotFoundError otherwise."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise NotFoundError(f"not a sha256 digest: {sha256!r}")
    return sha256


def is_sha256(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


def altered(sha256: str, where: str = "altered on disk") -> IntegrityError:
    return IntegrityError(f"stored asset {sha256[:12]}… does not match its hash ({where})")


def mismatch(expected: str, got: str) -> IntegrityError:
    return IntegrityError(f"the content received hashes to {got[:12]}…, not the claimed {expected[:12]}…; "
                          "nothing was stored")


def check_digest(handle: BinaryIO, sha256: str, where: str = "altered on disk") -> None:
    if hashlib.file_digest(handle, "sha256").hexdigest() != sha256:
        raise altered(sha256, where)


def rehashed_chunks(handle: BinaryIO, sha256: str, chunk_size: int,
                    where: str = "altered on disk") -> Iterator[bytes]:
    """``handle``'s bytes chunk by chunk, hashed as they are read; the last chunk is held back until
    the whole hash matches, so content altered mid-read never arrives whole."""
    with handle:
        digest = hashlib.sha256()
        held = handle.read(chunk_size)
        digest.update(held)
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
            yield held
            held = chunk
        if digest.hexdigest() != sha256:
            raise altered(sha256, where)
        if held:
            yield held


def export_verified(store: ContentStore, sha256: str, target: Path) -> Path:
    """Write stored content to ``target`` (whose folder must exist): hash-checked as it is copied,
    through a temp file beside it that only takes the name when the copy is whole and intact;
    nothing at ``target`` is replaced and a symlink there is never followed."""
    with atomic_path(Path(target), make_parents=False, overwrite=False) as tmp:
        with open(tmp, "wb") as out:
            for chunk in store.iter_verified(sha256):
                out.write(chunk)
    return Path(target)
