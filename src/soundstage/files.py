"""Writing files so that nobody ever reads half of one: a temporary file in the same folder,
flushed to disk, then renamed over the target (atomic on POSIX)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from soundstage.errors import AlreadyExistsError, WorkspaceError


@contextmanager
def atomic_path(path: Path, *, make_parents: bool = True, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` if the block succeeds and is
    removed if it fails.

    ``overwrite=False`` never replaces anything at ``path`` and never writes through a symlink
    there (dangling or not): checked before the block runs, and again when the file is put in
    place, by hard-linking it to the name (which fails on anything already there)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if make_parents:
        directory.mkdir(parents=True, exist_ok=True)
    elif not directory.is_dir():
        raise WorkspaceError(f"cannot write {path}: folder {directory} does not exist")
    if not overwrite:
        refuse_existing(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def refuse_existing(path: Path) -> None:
    """AlreadyExistsError when anything is at ``path``, a symlink included (``os.lstat``: a link is
    never followed, so a dangling one counts too)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise AlreadyExistsError(f"{path} is a symlink; soundstage never writes through one",
                                 hint="remove the link or choose another name")
    raise AlreadyExistsError(f"{path} already exists; soundstage does not overwrite it",
                             hint="remove it or choose another name")


def _publish_new(tmp: str, path: Path) -> None:
    """Give the finished temp file its final name without replacing anything there: link(2) fails
    on an existing name, a symlink included, and never follows one."""
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        refuse_existing(path)
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        refuse_existing(path)  # a file system without hard links: check, then rename
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def atomic_write_bytes(path: Path, data: bytes, *, make_parents: bool = True) -> Path:
    with atomic_path(path, make_parents=make_parents) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: Path, text: str, *, make_parents: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), make_parents=make_parents)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks (a plate or a frame sequence never sits in
    memory whole). The one file digest used for chunks, segments, sequences and manifests."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
