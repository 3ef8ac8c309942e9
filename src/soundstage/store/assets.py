"""The content-addressed asset store: files named by SHA-256, written atomically, never overwritten.

Only the guard can write here. A store is born with its write capability (a ``GrantMinter``)
and hands it over exactly once: the composition root (``services.workspace``) gives it to the
guard (``guard.adopt_store``), which mints a single-use ``WriteGrant`` per file it stores. ``put``
refuses anything else: a grant from another store's minter, a used grant, an object that only
looks like one. The store imports nothing from the layers above it.

This is the default, local backend of the storage interface (``store.blobs.ContentStore``); the
S3-compatible one is ``store.s3.S3Store`` (docs/decisions/DR010-object-storage.md).

A unit of work that fails leaves the files it created here, as the S3 store leaves its objects:
another unit may have found the same content already stored and committed a row naming it in the
instant before a delete. ``collect_garbage`` removes files no ledger row names once they are older
than a grace period longer than any unit of work; storing content that is already here touches the
file (its mtime), so content reused by a unit still in flight is never old (DR010, second
amendment of 2026-12-06). ``discard_created`` applies the same rule at once to what a failed job
created itself, with its write as the cutoff: a new file is born with an mtime no touch can give,
so a file still carrying it was reused by no unit since (DR010, amendment of 2026-12-07).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

from soundstage.errors import NotFoundError, WorkspaceError
from soundstage.store.blobs import (CHUNK, GC_GRACE, GC_GRACE_MIN, GrantMinter, GuardedWrites, NewBlobs, StoredBlob,
                                    Unnamed, WriteGrant, altered, check_digest, check_sha256, export_verified, is_sha256, mismatch, rehashed_chunks)

__all__ = ["AssetStore", "GrantMinter", "StoredBlob", "Unnamed", "WriteGrant", "GC_GRACE"]

_CHUNK = CHUNK

#: where ``collect_garbage`` moves a file while it checks the ledger again (never a blob folder:
#: blob folders are two hex digits)
_TRASH = "trash"
#: a file that disappears (gc) every time it was about to be reused: give up after this many tries
_LINK_TRIES = 8


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
            birth = _mark_birth(tmp_name)
            os.chmod(tmp_name, 0o444)
            for _ in range(_LINK_TRIES):
                if _reuse(final):
                    os.unlink(tmp_name)
                    return StoredBlob(sha, size, final, created=False)
                final.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(tmp_name, final)  # fails if it appeared meanwhile: never overwrite
                except FileExistsError:
                    continue  # reuse it (and touch it) on the next turn
                os.unlink(tmp_name)
                self._new.add(sha)
                return StoredBlob(sha, size, final, created=True, birth=birth)
            raise WorkspaceError(f"asset content {sha[:12]}… kept disappearing while it was stored",
                                 hint="is soundstage gc --delete running with a grace period shorter than a unit "
                                      "of work? try again")
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

    def forget_new(self) -> None:
        """Called when the ledger transaction failed: the files this unit of work created stay for
        ``collect_garbage`` (``NewBlobs.leave_for_gc``). No row names them, so nothing serves them
        as an asset."""
        self._new.leave_for_gc()

    @property
    def left_for_gc(self) -> list[str]:
        """Files failed units of work created, left for ``collect_garbage`` (``NewBlobs.left_for_gc``)."""
        return self._new.left_for_gc

    def commit_new(self) -> None:
        self._new.take()

    # ------------------------------------------------------------------ garbage collection

    def collect_garbage(self, named: Callable[[], set[str]], *, older_than: timedelta = GC_GRACE,
                        delete: bool = False, now: datetime | None = None) -> list[Unnamed]:
        """Stored files that no ledger row names (``named()``: every sha256 the ledger names, read
        fresh) and that were last written or reused longer than ``older_than`` ago; with ``delete``
        they are removed. Without it nothing is touched.

        A delete never races a unit of work: each file is first moved out of its name into
        ``<root>/trash`` (atomic, so no unit can find it from then on; one that looks next stores it
        anew), then the ledger is read again and the file's mtime looked at again: a file a unit
        reused (touched) or named meanwhile goes back, the rest is removed. A gc killed half-way
        leaves files in ``trash``; the next ``delete`` settles them by the same rule."""
        if older_than < GC_GRACE_MIN:
            raise ValueError(f"the grace period must be at least {GC_GRACE_MIN} (longer than any unit of work)")
        clock = now.timestamp() if now is not None else time.time()
        cutoff = clock - older_than.total_seconds()
        names = named()
        found: list[Unnamed] = []
        for sha, _size in self.iter_stored():
            if sha in names:
                continue
            path = self.path_for(sha)
            try:
                st = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if st.st_mtime < cutoff:
                found.append(Unnamed(sha, st.st_size, path, clock - st.st_mtime))
        if not delete:
            return sorted(found, key=lambda u: u.sha256)
        trash = self.root / _TRASH
        trash.mkdir(exist_ok=True)
        moved: list[tuple[Unnamed, Path]] = []
        for item in found:
            held = trash / f"{item.sha256}.{os.urandom(4).hex()}"
            try:
                os.rename(item.path, held)
            except FileNotFoundError:
                continue
            moved.append((item, held))
        moved += self._left_in_trash(trash, {held for _, held in moved})
        # a unit reused (touched) or named it meanwhile: it goes back
        gone = self._settle([(item.sha256, held) for item, held in moved], named,
                            lambda sha, st, names: sha in names or st.st_mtime >= cutoff)
        return sorted((moved[i][0] for i in gone), key=lambda u: u.sha256)

    def discard_created(self, blobs: Sequence[StoredBlob], named: Callable[[], set[str]]) -> list[str]:
        """Remove, now, the files these writes created (``created`` and born here: ``_mark_birth``)
        that no ledger row names and no unit has reused since: ``collect_garbage``'s rule with each
        write as its cutoff instead of the grace. A file is first moved out of its name into
        ``trash`` (from then on a unit that looks stores it anew), then the ledger is read again
        (``named()``) and the moved file looked at again: named, or touched since it was created (a
        unit found it and is about to name it: ``_reuse``), it goes back. Returns the sha256s removed;
        everything else stays for gc. A ledger that cannot be read puts every moved file back."""
        moved: list[tuple[StoredBlob, Path]] = []
        trash = self.root / _TRASH
        for blob in blobs:
            if not blob.created or blob.birth is None or any(blob.sha256 == b.sha256 for b, _ in moved):
                continue
            path = self.path_for(blob.sha256)
            try:
                if _birth_of(os.stat(path, follow_symlinks=False)) != blob.birth:
                    continue  # reused (touched) since, or stored anew: not this write's to take
                trash.mkdir(exist_ok=True)
                held = trash / f"{blob.sha256}.{os.urandom(4).hex()}"
                os.rename(path, held)
            except FileNotFoundError:
                continue
            moved.append((blob, held))
        if not moved:
            return []
        births = {blob.sha256: blob.birth for blob, _ in moved}
        # a unit named or reused it meanwhile: it goes back
        gone = self._settle([(blob.sha256, held) for blob, held in moved], named,
                            lambda sha, st, names: sha in names or _birth_of(st) != births[sha])
        removed = [moved[i][0].sha256 for i in gone]
        self._new.settled(removed)
        return removed

    def _settle(self, moved: list[tuple[str, Path]], named: Callable[[], set[str]],
                keep: Callable[[str, os.stat_result, set[str]], bool]) -> list[int]:
        """The second half of gc's protocol, for files already moved into the trash: the ledger's names
        read again (a ledger that cannot be read puts every moved file back), then each file goes back
        where ``keep(sha256, its stat, names)`` says so, or is deleted; one gone meanwhile (a gc running
        now settled it by the same rule) is neither. Returns the positions in ``moved`` deleted."""
        try:
            names = named()
        except BaseException:
            for sha, held in moved:
                _restore(held, self.path_for(sha))
            raise
        gone = []
        for position, (sha, held) in enumerate(moved):
            try:
                st = os.stat(held, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if keep(sha, st, names):
                _restore(held, self.path_for(sha))
                continue
            os.unlink(held)
            gone.append(position)
        return gone

    def _left_in_trash(self, trash: Path, ours: set[Path]) -> list[tuple[Unnamed, Path]]:
        """Files an earlier gc moved aside and did not settle (it was killed)."""
        out = []
        for entry in os.scandir(trash):
            held = Path(entry.path)
            sha = entry.name.split(".", 1)[0]
            if held in ours or not is_sha256(sha) or not entry.is_file(follow_symlinks=False):
                continue
            st = entry.stat(follow_symlinks=False)
            out.append((Unnamed(sha, st.st_size, self.path_for(sha), time.time() - st.st_mtime), held))
        return out


#: how far before now a new content file's mtime is set (``_mark_birth``): more than any file
#: system's timestamp granularity (FAT's 2 s aside) and any lag of the coarse clock a touch reads
_BIRTH_BEFORE_NOW_NS = 2_000_000_000


def _mark_birth(tmp_name: str) -> tuple[int, int, int]:
    """Give a new content file, before it takes its name, an mtime no touch can give it: a whole
    second at least two seconds before now. Any unit that reuses the file later touches it to its
    own now (``_reuse``), so a file whose mtime is still this one was reused by no unit since it was
    created (``discard_created``); the kernel's own clock for a touch is coarse (a tick), so the
    time of the write itself would not tell a touch in the same tick apart. Returns the file's
    (device, inode, mtime) as it takes its name; gc's grace counts from this mtime (2 s earlier)."""
    stamp = (time.time_ns() - _BIRTH_BEFORE_NOW_NS) // 1_000_000_000 * 1_000_000_000
    os.utime(tmp_name, ns=(stamp, stamp))
    return _birth_of(os.stat(tmp_name))


def _birth_of(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


def _reuse(final: Path) -> bool:
    """True when ``final`` is stored: then it is touched (its mtime is now), so gc sees content a unit
    of work is about to name as young. False when it is not there (gc may just have moved it)."""
    try:
        os.utime(final)
        return True
    except FileNotFoundError:
        return False
    except OSError:  # not ours to touch (another user's file, a read-only mount): still there to reuse
        return final.is_file()


def _restore(held: Path, final: Path) -> None:
    """Put a file gc moved aside back under its name (unless identical content was stored anew)."""
    try:
        os.link(held, final)
    except FileExistsError:
        pass
    os.unlink(held)
