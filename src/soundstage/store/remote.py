"""The production's store as render nodes reach it (``compute.nodes.JobStore``), by address only.

``node_address(store, work_root)`` turns the workspace's store into a small picklable object that
travels inside chunk tasks:

- ``S3NodeStore``: endpoint, bucket, region, key prefix, addressing style and the *names* of the
  environment variables holding the credentials - never their values: each render node reads its
  own (one credential per machine, revocable on its own). Inputs are fetched by SHA-256 through
  the S3 backend's verified read-through cache (in the node's temp folder); the job's work area is
  ``<prefix>work/<job dir>/`` in the bucket, outside the content keys: segments and manifests,
  uploaded with their SHA-256 (the server refuses a body that does not match), never assets.
- ``LocalFolderStore``: the local content folder and work folder, for one machine (or nodes that
  mount both at the same paths); inputs are hash-checked once per process.

A render node's verified copies (``$SOUNDSTAGE_NODE_DIR/s3-cache``) are bounded: after each
download the cache is pruned to ``SOUNDSTAGE_NODE_CACHE_MB`` (default 20480), least recently used
first (a copy's last use is the mtime of its marker in ``s3-cache/used/``: touching the copy itself
would change its ctime and make the store hash it again). A copy a task on this node is using is
never evicted: each task holds a shared ``flock`` on the copies it fetched until the same thread
starts its next task (``node_work_dir`` begins every task) or the process ends, and eviction takes
only copies it can lock exclusively.

``bucket_work_areas`` / ``clear_bucket_work_area`` list and remove the job work areas in a bucket
(``<prefix>work/job-<id>/``) for ``soundstage gc``, which decides which jobs' areas may go.

Nothing here can write an asset: the content namespace is only read.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundstage.compute.nodes import FolderWorkArea, node_temp_root
from soundstage.errors import BackendError, NotFoundError, WorkspaceError
from soundstage.store.blobs import altered, check_sha256
from soundstage.store.assets import AssetStore
from soundstage.store.s3 import S3Config, S3Store

__all__ = ["S3NodeStore", "LocalFolderStore", "node_address", "WORK_PREFIX", "CACHE_LIMIT_ENV",
           "prune_node_cache", "release_inputs", "BucketWorkArea", "bucket_work_areas", "clear_bucket_work_area"]

WORK_PREFIX = "work/"
CACHE_LIMIT_ENV = "SOUNDSTAGE_NODE_CACHE_MB"
DEFAULT_CACHE_MB = 20480
#: the open, shared-locked copies the current task of each thread uses (released at its next task)
_PINS = threading.local()
_VERIFIED: dict[str, tuple[int, int, int, int, int]] = {}
_LOCK = threading.Lock()
#: this process's S3 backends, one per (address, credential, CA): a node keeps its verified cache
_S3_STORES: dict[tuple, Any] = {}


def _stamp(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


#: what ``guard.safe_job_dir`` makes of a job id
_JOB_DIR = re.compile(r"job-[A-Za-z0-9_-]{1,80}")


def _job_dir(job_dir: str) -> str:
    if not _JOB_DIR.fullmatch(job_dir):
        raise BackendError(f"not a job work area: {job_dir[:80]!r}")
    return job_dir


def _name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or len(name) > 200:
        raise BackendError(f"not a work-area file name: {name[:80]!r}")
    return name


@dataclass(frozen=True)
class LocalFolderStore(FolderWorkArea):
    """The local content folder (``root/ab/cdef…``) and the production's work folder."""

    root: str
    work_root: str
    portable: bool = True  # inputs by hash; nodes need both folders mounted (the preflight checks)

    @property
    def label(self) -> str:
        return f"folder {self.root}"

    def fetch(self, ref: str) -> Path:
        sha256 = check_sha256(ref)
        path = Path(self.root) / sha256[:2] / sha256[2:]
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise NotFoundError(f"asset content {sha256[:12]}… is not in the folder store {self.root} on this "
                                "machine", hint="render nodes without the folder need [store] backend = \"s3\"") \
                from None
        if _VERIFIED.get(str(path)) != _stamp(st):
            with open(path, "rb") as fh:
                if hashlib.file_digest(fh, "sha256").hexdigest() != sha256:
                    raise altered(sha256)
                with _LOCK:
                    _VERIFIED[str(path)] = _stamp(os.fstat(fh.fileno()))
        return path

    def work_dir_name(self, job_dir: str) -> str:
        return _job_dir(job_dir)

    def work_file_name(self, name: str) -> str:
        return _name(name)

    def check(self) -> None:
        if not Path(self.root).is_dir():
            raise WorkspaceError(f"the folder store {self.root} is not on this machine",
                                 hint="render nodes that share no disk need [store] backend = \"s3\"")
        work = Path(self.work_root)
        if not work.is_dir() or not os.access(work, os.W_OK | os.X_OK):
            raise WorkspaceError(f"the work folder {work} is not on this machine or not writable")


@dataclass(frozen=True)
class S3NodeStore:
    """An S3 bucket by address; credentials from this machine's environment (the variables named)."""

    bucket: str
    prefix: str
    endpoint: str | None = None
    region: str = "us-east-1"
    addressing_style: str = "path"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    session_token_env: str | None = None
    ca_bundle: str | None = None  # a path on the node; SOUNDSTAGE_S3_CA_BUNDLE overrides it there
    portable: bool = True

    @property
    def label(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint or 'AWS S3 ' + self.region}"

    def _store(self) -> Any:
        """This process's S3 backend for the address, built from the environment as it is now (a
        rotated credential takes effect at the next chunk)."""
        env = os.environ
        access, secret = env.get(self.access_key_env, ""), env.get(self.secret_key_env, "")
        token = env.get(self.session_token_env, "") if self.session_token_env else ""
        if not access or not secret:
            missing = self.access_key_env if not access else self.secret_key_env
            raise WorkspaceError(f"the object store's credential is not set on this machine: {missing} is empty",
                                 hint=f"export {missing}=… in the render node's environment")
        ca = env.get("SOUNDSTAGE_S3_CA_BUNDLE") or self.ca_bundle
        ident = (self, hashlib.sha256(f"{access}\0{secret}\0{token}".encode()).hexdigest(), ca)
        store = _S3_STORES.get(ident)
        if store is None:
            while len(_S3_STORES) >= 4:
                _S3_STORES.pop(next(iter(_S3_STORES))).close()
            store = _S3_STORES[ident] = S3Store(S3Config(
                bucket=self.bucket, cache_dir=node_temp_root() / "s3-cache", access_key=access, secret_key=secret,
                session_token=token or None, endpoint=self.endpoint, region=self.region, prefix=self.prefix,
                addressing_style=self.addressing_style, ca_bundle=Path(ca) if ca else None))
        return store

    def _work_key(self, job_dir: str, name: str) -> str:
        return f"{self.prefix}{WORK_PREFIX}{_job_dir(job_dir)}/{_name(name)}"

    def fetch(self, ref: str) -> Path:
        """The verified cached copy, pinned for this thread's task; the cache is then pruned to its cap."""
        sha256 = check_sha256(ref)
        limit = cache_limit_bytes()  # a bad setting fails every task at once, not only a downloading one
        store = self._store()
        for _ in range(5):
            fetched = not store._cache_path(sha256).exists()
            path = store.path_for(sha256)
            if _pin(path):
                break  # else another process evicted it between the check and the lock: fetch again
        else:
            raise BackendError(f"the render node's cache kept losing {sha256[:12]}… (is it far too small?)",
                               hint=f"raise {CACHE_LIMIT_ENV} on this node")
        _mark_used(store.cache_dir, sha256)
        if fetched:
            prune_node_cache(store.cache_dir, limit)
        return path

    def node_work_dir(self, job_dir: str) -> Path:
        release_inputs()  # a task begins here: the thread's previous task is over
        path = node_temp_root() / "work" / _job_dir(job_dir)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def shares_work_dir(self) -> bool:
        return False

    def put_work(self, job_dir: str, path: Path) -> None:
        store = self._store()
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").digest()
            fh.seek(0)
            store._call(store._client.put_object, Bucket=self.bucket, Key=self._work_key(job_dir, Path(path).name),
                        Body=fh, ChecksumSHA256=base64.b64encode(digest).decode("ascii"))

    def get_work(self, job_dir: str, name: str, target: Path) -> bool:
        store = self._store()
        key = self._work_key(job_dir, name)
        try:
            body = store._call(store._client.get_object, Bucket=self.bucket, Key=key)["Body"]
        except NotFoundError:
            return False
        tmp = Path(target).with_name(f".tmp{os.getpid()}-{Path(target).name}")
        try:
            with body, open(tmp, "wb") as out:
                while chunk := store._call(body.read, 8 * 1024 * 1024):
                    out.write(chunk)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def clear_work(self, job_dir: str) -> None:
        store = self._store()
        prefix = f"{self.prefix}{WORK_PREFIX}{_job_dir(job_dir)}/"
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = store._call(store._client.list_objects_v2, **kwargs)
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                store._call(store._client.delete_objects, Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def check(self) -> None:
        self._store().check_reachable()


# ---------------------------------------------------------------- the node's cache

def cache_limit_bytes() -> int:
    """``SOUNDSTAGE_NODE_CACHE_MB`` (a whole number of MiB, 1 to 10^8) as bytes."""
    raw = os.environ.get(CACHE_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_CACHE_MB * 1024 * 1024
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 10**8:
        raise WorkspaceError(f"{CACHE_LIMIT_ENV}={raw[:40]!r} is not a whole number of MiB from 1 to 100000000",
                             hint=f"unset it (default {DEFAULT_CACHE_MB}) or set e.g. {CACHE_LIMIT_ENV}=50000")
    return value * 1024 * 1024


def _pin(path: Path) -> bool:
    """Hold a shared lock on the copy at ``path`` for this thread's task; False when it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is None or (st.st_dev, st.st_ino) != (os.fstat(fd).st_dev, os.fstat(fd).st_ino):
        os.close(fd)  # evicted (or replaced) before the lock was taken
        return False
    pins = getattr(_PINS, "fds", None)
    if pins is None:
        pins = _PINS.fds = []
    pins.append(fd)
    return True


def release_inputs() -> None:
    """Let go of the copies this thread's task pinned (they may be evicted from now on)."""
    for fd in getattr(_PINS, "fds", None) or []:
        os.close(fd)
    _PINS.fds = []


def _mark_used(cache_dir: Path, sha256: str) -> None:
    used = Path(cache_dir) / "used"
    used.mkdir(exist_ok=True, mode=0o700)
    marker = used / sha256
    try:
        os.utime(marker)
    except FileNotFoundError:
        marker.touch()


def prune_node_cache(cache_dir: Path, limit: int) -> list[str]:
    """Evict verified copies, least recently used first, until the cache holds at most ``limit``
    bytes; a copy some task holds (a shared lock) is skipped. Returns the evicted hashes."""
    cache_dir = Path(cache_dir)
    copies: list[tuple[float, int, str, Path]] = []
    total = 0
    for sub in cache_dir.iterdir() if cache_dir.is_dir() else ():
        if len(sub.name) != 2 or not sub.is_dir() or sub.is_symlink():
            continue  # tmp/, scratch/, used/
        for path in sub.iterdir():
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            sha256 = sub.name + path.name
            if len(sha256) != 64 or not path.is_file():
                continue
            try:
                used = os.stat(cache_dir / "used" / sha256).st_mtime
            except FileNotFoundError:
                used = st.st_mtime
            copies.append((used, st.st_size, sha256, path))
            total += st.st_size
    evicted: list[str] = []
    for _, size, sha256, path in sorted(copies):
        if total <= limit:
            break
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            total -= size
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # in use by a task on this node
        try:
            path.unlink(missing_ok=True)
            (cache_dir / "used" / sha256).unlink(missing_ok=True)
        finally:
            os.close(fd)
        total -= size
        evicted.append(sha256)
    return evicted


# ---------------------------------------------------------------- work areas in a bucket, for gc

@dataclass(frozen=True)
class BucketWorkArea:
    job_dir: str  # "job-<id>"
    url: str  # s3://bucket/<prefix>work/job-<id>/
    objects: int
    size: int
    newest: float  # unix time of its newest object


def _work_root_key(store: Any) -> str:
    return f"{store.prefix}{WORK_PREFIX}"


def bucket_work_areas(store: Any) -> list[BucketWorkArea]:
    """The job work areas under ``<prefix>work/`` of an S3 store (anything else there is ignored)."""
    root = _work_root_key(store)
    areas: dict[str, list] = {}
    kwargs: dict[str, Any] = {"Bucket": store.bucket, "Prefix": root, "MaxKeys": 1000}
    while True:
        page = store._call(store._client.list_objects_v2, **kwargs)
        for item in page.get("Contents", []):
            job_dir, _, name = item["Key"][len(root):].partition("/")
            try:
                _job_dir(job_dir)
            except BackendError:
                continue
            if not name:
                continue
            entry = areas.setdefault(job_dir, [0, 0, 0.0])
            entry[0] += 1
            entry[1] += int(item["Size"])
            entry[2] = max(entry[2], item["LastModified"].timestamp())
        if not page.get("IsTruncated"):
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    return [BucketWorkArea(d, f"s3://{store.bucket}/{root}{d}/", n, size, newest)
            for d, (n, size, newest) in sorted(areas.items())]


def clear_bucket_work_area(store: Any, job_dir: str) -> int:
    """Delete every object of one job's work area; returns how many (a job area only: the key is
    ``<prefix>work/job-…/``, never the content keys)."""
    prefix = f"{_work_root_key(store)}{_job_dir(job_dir)}/"
    deleted = 0
    while True:  # list from the start each time: what was deleted is gone from the listing
        page = store._call(store._client.list_objects_v2, Bucket=store.bucket, Prefix=prefix, MaxKeys=1000)
        keys = [{"Key": item["Key"]} for item in page.get("Contents", []) if item["Key"].startswith(prefix)]
        if not keys:
            return deleted
        answer = store._call(store._client.delete_objects, Bucket=store.bucket,
                             Delete={"Objects": keys, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise BackendError(f"could not delete {first.get('Key')} from {store.location}: "
                               f"{first.get('Code')} {first.get('Message', '')}".strip())
        deleted += len(keys)


def node_address(store: Any, work_root: Path) -> LocalFolderStore | S3NodeStore | None:
    """The address of a workspace's content store for chunk workers (no credential inside); None
    for a store with no address (the job then runs on this machine's files)."""
    if isinstance(store, S3Store):
        c = store.config
        return S3NodeStore(bucket=c.bucket, prefix=c.prefix, endpoint=c.endpoint, region=c.region,
                           addressing_style=c.addressing_style, access_key_env=c.access_key_env,
                           secret_key_env=c.secret_key_env, session_token_env=c.session_token_env,
                           ca_bundle=str(c.ca_bundle) if c.ca_bundle else None)
    if isinstance(store, AssetStore):
        return LocalFolderStore(str(Path(store.root).resolve()), str(Path(work_root).resolve()))
    return None

