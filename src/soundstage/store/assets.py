"""The content-addressed asset store: files named by SHA-256, written atomically, never overwritten.

Only the guard can write here. A store is born with its write capability (a ``GrantMinter``)
and hands it over exactly once: the composition root (``services.workspace``) gives it to the
guard (``guard.adopt_store``), which mints a single-use ``WriteGrant`` per file it stores. ``put``
refuses anything else: a grant from another store's minter, a used grant, an object that only
looks like one. The store imports nothing from the layers above it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

from soundstage.errors import IntegrityError, NotFoundError, RefusedError

_CHUNK = 1024 * 1024


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


@dataclass
class StoredBlob:
    sha256: str
    size: int
    path: Path
    created: bool  # False when identical content was already stored


@dataclass(eq=False)
class AssetStore:
    root: Path
    _created_in_txn: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
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

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFoundError(f"not a sha256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def put_bytes(self, data: bytes, grant: WriteGrant) -> StoredBlob:
        import io

        return self.put_stream(io.BytesIO(data), grant)

    def put_file(self, path: Path, grant: WriteGrant) -> StoredBlob:
        with open(path, "rb") as fh:
            return self.put_stream(fh, grant)

    def put_stream(self, stream: BinaryIO, grant: WriteGrant) -> StoredBlob:
        self._accept(grant)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            if final.exists():
                os.unlink(tmp_name)
                return StoredBlob(sha, size, final, created=False)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp_name, 0o444)
            try:
                os.link(tmp_name, final)  # fails if it appeared meanwhile: never overwrite
            except FileExistsError:
                os.unlink(tmp_name)
                return StoredBlob(sha, size, final, created=False)
            os.unlink(tmp_name)
            self._created_in_txn.append(final)
            return StoredBlob(sha, size, final, created=True)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def open(self, sha256: str) -> BinaryIO:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFoundError(f"asset content {sha256[:12]}… is missing from the store")
        return open(path, "rb")

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def verify(self, sha256: str) -> None:
        """Re-hash stored content; raises IntegrityError when the file was altered."""
        with self.open(sha256) as fh:
            _check_digest(fh, sha256)

    def iter_verified(self, sha256: str, *, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """The stored content, chunk by chunk: the one way content leaves the store (API download,
        CLI export). Checked twice on one open handle: hashed whole before this returns
        (IntegrityError, and nothing to read, when it does not match), then hashed again as it is
        read, holding back the last chunk until that second hash matches, so a file altered
        mid-read never arrives whole."""
        handle = self.open(sha256)
        try:
            _check_digest(handle, sha256)
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        return _rehashed_chunks(handle, sha256, chunk_size)

    def export_to(self, sha256: str, target: Path) -> Path:
        """Write stored content to ``target`` (whose folder must exist): hash-checked as it is
        copied, through a temp file beside it that only takes the name when the copy is whole and
        intact; nothing at ``target`` is replaced and a symlink there is never followed."""
        from soundstage.files import atomic_path

        with atomic_path(Path(target), make_parents=False, overwrite=False) as tmp:
            with open(tmp, "wb") as out:
                for chunk in self.iter_verified(sha256):
                    out.write(chunk)
        return Path(target)

    def forget_new(self) -> None:
        """Called when the ledger transaction failed: drop blobs this unit of work created."""
        for path in self._created_in_txn:
            try:
                os.chmod(path, 0o644)
                path.unlink()
            except FileNotFoundError:
                pass
        self._created_in_txn.clear()

    def commit_new(self) -> None:
        self._created_in_txn.clear()


def _altered(sha256: str) -> IntegrityError:
    return IntegrityError(f"stored asset {sha256[:12]}… does not match its hash (altered on disk)")


def _check_digest(handle: BinaryIO, sha256: str) -> None:
    if hashlib.file_digest(handle, "sha256").hexdigest() != sha256:
        raise _altered(sha256)


def _rehashed_chunks(handle: BinaryIO, sha256: str, chunk_size: int) -> Iterator[bytes]:
    with handle:
        digest = hashlib.sha256()
        held = handle.read(chunk_size)
        digest.update(held)
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
            yield held
            held = chunk
        if digest.hexdigest() != sha256:
            raise _altered(sha256)
        if held:
            yield held
