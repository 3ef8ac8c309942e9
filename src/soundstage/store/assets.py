"""The content-addressed asset store: files named by SHA-256, written atomically, never overwritten.

Only the guard can write here. A store is born with its write capability (a ``GrantMinter``)
and hands it over exactly once: the composition root (``services.workspace``) gives it to the
guard (``guard.adopt_store``), which mints a single-use ``WriteGrant`` per file it stores. ``put``
refuses anything else: a grant from another store's minter, a used grant, an object that only
looks like one. The store imports nothing from the layers above it.

This is the default, local backend of the storage interface (``store.blobs.ContentStore``); the
S3-compatible one is ``store.s3.S3Store`` (docs/decisions/DR010-object-storage.md).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from soundstage.errors import NotFoundError, WorkspaceError
from soundstage.store.blobs import (CHUNK, GrantMinter, GuardedWrites, NewBlobs, StoredBlob, WriteGrant, altered,
                                    check_digest, check_sha256, export_verified, is_sha256, mismatch, rehashed_chunks)

__all__ = ["AssetStore", "GrantMinter", "StoredBlob", "WriteGrant"]

_CHUNK = CHUNK


@dataclass(eq=False)
class AssetStore(GuardedWrites):
    """The local backend of ``store.blobs.ContentStore``: one folder, ``<root>/ab/cdef…``."""

    root: Path
    _new: NewBlobs = field(default_factory=NewBlobs)

    def __post_init__(self) -> None:
        GuardedWrites.__init__(self)

    @property
    def location(self) -> str:
        return f"folder {self.root}"

    def path_for(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def put_bytes(self, data: bytes, grant: WriteGrant, *, expected_sha256: str | None = None) -> StoredBlob:
        return self.put_stream(io.BytesIO(data), grant, expected_sha256=expected_sha256)

    def put_file(self, path: Path, grant: WriteGrant, *, expected_sha256: str | None = None) -> StoredBlob:
        with open(path, "rb") as fh:
            return self.put_stream(fh, grant, expected_sha256=expected_sha256)

    def put_stream(self, stream: BinaryIO, grant: WriteGrant, *,
                   expected_sha256: str | None = None) -> StoredBlob:
        """Store the stream's bytes under their SHA-256. With ``expected_sha256``, content that
        hashes to anything else is refused (IntegrityError) and nothing is kept."""
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
            if expected_sha256 is not None and sha != expected_sha256:
                raise mismatch(expected_sha256, sha)
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
            self._new.add(final)
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
        """The whole content, hash-checked (IntegrityError when the file was altered)."""
        with self.open(sha256) as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise altered(sha256)
        return data

    def verify(self, sha256: str) -> None:
        """Re-hash stored content; raises IntegrityError when the file was altered."""
        with self.open(sha256) as fh:
            check_digest(fh, sha256)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def stored_size(self, sha256: str) -> int | None:
        """The stored file's size, None when it is missing (not hashed: see ``verify``)."""
        try:
            return os.stat(self.path_for(sha256)).st_size
        except FileNotFoundError:
            return None

    def iter_stored(self) -> Iterator[tuple[str, int]]:
        """(sha256, size) of every stored file, in no particular order (for gc and audits)."""
        if not self.root.is_dir():
            return
        for sub in os.scandir(self.root):
            if not (sub.is_dir(follow_symlinks=False) and len(sub.name) == 2):
                continue
            for entry in os.scandir(sub.path):
                sha = sub.name + entry.name
                if is_sha256(sha) and entry.is_file(follow_symlinks=False):
                    yield sha, entry.stat(follow_symlinks=False).st_size

    def scratch_dir(self) -> Path:
        """A local folder for temporary files, on the store's own file system."""
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def check_reachable(self) -> None:
        """WorkspaceError unless the folder exists and this process can write to it."""
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise WorkspaceError(f"the asset store {self.root} is missing or not writable",
                                 hint="check the workspace folder and its permissions")

    def iter_verified(self, sha256: str, *, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """The stored content, chunk by chunk: the one way content leaves the store (API download,
        CLI export). Checked twice on one open handle: hashed whole before this returns
        (IntegrityError, and nothing to read, when it does not match), then hashed again as it is
        read, holding back the last chunk until that second hash matches, so a file altered
        mid-read never arrives whole."""
        handle = self.open(sha256)
        try:
            check_digest(handle, sha256)
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        return rehashed_chunks(handle, sha256, chunk_size)

    def export_to(self, sha256: str, target: Path) -> Path:
        """Write stored content to ``target`` (whose folder must exist): hash-checked as it is
        copied, through a temp file beside it that only takes the name when the copy is whole and
        intact; nothing at ``target`` is replaced and a symlink there is never followed."""
        return export_verified(self, sha256, target)

    def unit(self):
        """The scope of one unit of work: what it creates is its own to forget (``NewBlobs``)."""
        return self._new.unit()

    def forget_new(self, keep: Callable[[str], bool] | None = None) -> None:
        """Called when the ledger transaction failed: drop blobs this unit of work created, except
        those ``keep(sha256)`` says a committed row now names (a concurrent unit stored the same
        content, found it already here, and committed; content is shared by its address)."""
        for path in self._new.take():
            if keep is not None and keep(path.parent.name + path.name):
                continue
            try:
                os.chmod(path, 0o644)
                path.unlink()
            except FileNotFoundError:
                pass

    def commit_new(self) -> None:
        self._new.take()
