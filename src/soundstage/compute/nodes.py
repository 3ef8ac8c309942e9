"""What a chunk worker needs of the production's store, and the render-node preflight.

A chunk task names its inputs (plate, sequence frames, reference faces, backgrounds, masks) by
SHA-256 and carries a ``JobStore``: the store's *address* (for S3: endpoint, bucket, prefix and
the names of the environment variables holding the credentials, never their values). The worker
fetches each input by hash into a verified local copy, computes in a work folder of its own and
publishes its segment and manifest to the job's work area in the store; the submitting process
pulls them from there and assembles. Implementations live in ``soundstage.store.remote`` (the
store layer); this module only states the protocol, so compute never imports the store.

``LocalPathsStore`` serves jobs whose inputs are plain local files (tests, benchmarks, library
use): such a job runs only on this machine's executors; a Dask cluster refuses it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from soundstage.errors import BackendError, NotFoundError

__all__ = ["JobStore", "FolderWorkArea", "LocalPathsStore", "node_temp_root", "ProbeResult", "probe_node"]


@runtime_checkable
class JobStore(Protocol):
    """The production's store as a chunk worker reaches it. Picklable; no secrets inside."""

    #: for people and error messages: "s3://bucket/prefix at endpoint", "folder /srv/…/assets"
    label: str
    #: True when inputs are named by SHA-256 and the work area is not a folder every worker sees,
    #: so the task can run on a machine that shares no disk with the submitting one
    portable: bool

    def fetch(self, ref: str) -> Path:
        """A local, verified copy of the input ``ref`` names (a SHA-256; LocalPathsStore: a path)."""
        ...

    def node_work_dir(self, job_dir: str) -> Path:
        """The folder a worker computes the job's chunks in (made if missing)."""
        ...

    def shares_work_dir(self) -> bool:
        """True when ``node_work_dir`` is the job's work area itself (nothing to publish or pull)."""
        ...

    def put_work(self, job_dir: str, path: Path) -> None:
        """Publish a file of the job's work area under its name (a segment, then its manifest)."""
        ...

    def get_work(self, job_dir: str, name: str, target: Path) -> bool:
        """Copy the work area's file ``name`` to ``target`` (atomically); False when it is not there."""
        ...

    def clear_work(self, job_dir: str) -> None:
        """Remove the job's work area (its finished segments)."""
        ...

    def check(self) -> None:
        """Raise (one line, naming the store) unless this process can read the store and write its
        work folder: a render node's preflight."""
        ...


def node_temp_root() -> Path:
    """Where a render node keeps its per-job work folders and its verified copies of inputs:
    ``$SOUNDSTAGE_NODE_DIR`` or ``<tmp>/soundstage-node-<uid>`` (owner-only)."""
    configured = os.environ.get("SOUNDSTAGE_NODE_DIR")
    root = Path(configured) if configured else Path(tempfile.gettempdir()) / f"soundstage-node-{os.getuid()}"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(root)
    # in a shared /tmp another user could have made the folder (or a symlink) first: refuse it
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise BackendError(f"the render node's folder {root} is not a private folder of this user",
                           hint="set SOUNDSTAGE_NODE_DIR to a folder only this user can write")
    return root


class FolderWorkArea:
    """A job's work area as the folder ``work_root/<job dir>`` every node sees (one machine, or a
    shared mount): the part of ``JobStore`` the local stores have in common. A store that takes
    names from further away narrows them in ``work_dir_name`` / ``work_file_name``."""

    work_root: str

    def work_dir_name(self, job_dir: str) -> str:
        return job_dir

    def work_file_name(self, name: str) -> str:
        return name

    def node_work_dir(self, job_dir: str) -> Path:
        path = Path(self.work_root) / self.work_dir_name(job_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def shares_work_dir(self) -> bool:
        return True

    def put_work(self, job_dir: str, path: Path) -> None:
        publish_in_folder(self.node_work_dir(job_dir), path)

    def get_work(self, job_dir: str, name: str, target: Path) -> bool:
        return copy_from_folder(Path(self.work_root) / self.work_dir_name(job_dir) / self.work_file_name(name), target)

    def clear_work(self, job_dir: str) -> None:
        pass  # the work area is the job's folder, which the submitting process removes


@dataclass(frozen=True)
class LocalPathsStore(FolderWorkArea):
    """Inputs are local files named by path, the work area is ``work_root/<job dir>``: one machine only."""

    work_root: str
    label: str = "local files"
    portable: bool = False

    def fetch(self, ref: str) -> Path:
        path = Path(ref)
        if not ref or not path.is_file():
            raise NotFoundError(f"input file not found: {ref!r}")
        return path


    def check(self) -> None:
        root = Path(self.work_root)
        if not root.is_dir() or not os.access(root, os.W_OK | os.X_OK):
            raise BackendError(f"the work folder {root} is not there or not writable on this machine")


def publish_in_folder(folder: Path, path: Path) -> None:
    """``path`` into ``folder`` under its name (a no-op when it is already there), atomically."""
    target = folder / path.name
    if Path(path).resolve() == target.resolve():
        return
    tmp = target.with_name(f".tmp{os.getpid()}-{target.name}")
    shutil.copyfile(path, tmp)
    os.replace(tmp, target)


def copy_from_folder(source: Path, target: Path) -> bool:
    if not source.is_file():
        return False
    if source.resolve() != Path(target).resolve():
        tmp = Path(target).with_name(f".tmp{os.getpid()}-{Path(target).name}")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    return True


@dataclass(frozen=True)
class ProbeResult:
    """One worker's answer to the preflight: ``error`` is "" when it reached the store."""

    worker: str
    error: str = ""


def probe_node(store: JobStore, job_dir: str, probe_name: str, probe_sha256: str) -> str:
    """Run on every worker before a job is scheduled: read the probe object the submitting process
    put into the job's work area, check its hash, check the store answers. "" or the error."""
    try:
        store.check()
        target = store.node_work_dir(job_dir) / f".probe-{os.getpid()}"
        try:
            if not store.get_work(job_dir, probe_name, target):
                return f"the probe object {probe_name} is not readable in {store.label}"
            if hashlib.sha256(target.read_bytes()).hexdigest() != probe_sha256:
                return f"the probe object read from {store.label} does not match its hash"
        finally:
            target.unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001 - reported to the submitting process as one line
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return ""
