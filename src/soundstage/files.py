"""Writing files so that nobody ever reads half of one: a temporary file in the same folder,
flushed to disk, then renamed over the target (atomic on POSIX)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from soundstage.errors import WorkspaceError


@contextmanager
def atomic_path(path: Path, *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` if the block succeeds and is
    removed if it fails."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if make_parents:
        directory.mkdir(parents=True, exist_ok=True)
    elif not directory.is_dir():
        raise WorkspaceError(f"cannot write {path}: folder {directory} does not exist")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes, *, make_parents: bool = True) -> Path:
    with atomic_path(path, make_parents=make_parents) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: Path, text: str, *, make_parents: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), make_parents=make_parents)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks (a plate or a frame sequence never sits in
    memory whole). The one file digest used for chunks, segments, sequences and manifests."""
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
