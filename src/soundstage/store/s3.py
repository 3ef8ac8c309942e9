"""The S3-compatible backend of the content store: objects named by the SHA-256 of their bytes.

Key layout: ``<prefix><ab>/<cdef…>`` - the local folder's own layout, so a folder and a bucket can
be synchronised with ordinary tools. Writes need the guard's grant (``store.blobs.GuardedWrites``),
exactly like the local folder, and never need a hard link.

How a write stays honest (measured on SeaweedFS 4.48; AWS S3 and MinIO document the same
behaviour; docs/decisions/DR010-object-storage.md):

- the key is the SHA-256 the store computes itself over every byte it reads, and every request
  carries the SHA-256 of its body (``x-amz-checksum-sha256``): the server refuses a body that
  does not hash to it (``BadDigest``), so the object holds the bytes that were hashed;
- an object appears only whole: one PUT up to the part size, else a multipart upload that is
  invisible until ``CompleteMultipartUpload``; a failure aborts the upload, so nothing is left;
- never overwritten: a HEAD first (identical content already stored: nothing is sent), and the
  PUT / Complete are conditional (``If-None-Match: *``): of two identical uploads racing, one
  creates the object and the other gets 412 and aborts. (SeaweedFS 4.48 checks a conditional
  Complete before it writes, not atomically: racing multipart uploads of the same content may both
  complete, the later rewriting the same verified bytes.)

Reads are hash-checked: ``path_for`` fetches into a local read-through cache (render libraries
need a path), hashing as it downloads; a cached copy is re-hashed whenever this process has not
itself verified that very file (same inode, size, mtime and ctime), and a copy that does not match
is removed and refused with IntegrityError (cache poisoning). ``verify`` always re-reads the bucket.

A unit of work that fails leaves the objects it created in the bucket, for ``gc`` to remove once
no ledger row names them: another host may already have stored the same content and committed a
row that names it, and deleting it then would lose that asset (DR010). ``collect_garbage`` is that
gc: a unit leases the content it reuses (``<prefix>leases/``), and gc moves what it deletes into
``<prefix>trash/`` before it reads the ledger and the leases again. ``discard_created`` applies that
rule at once to an object a failed job created alone (one conditional PUT), unleased since.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Sequence

from soundstage.errors import BackendError, IntegrityError, NotFoundError, SoundstageError, WorkspaceError
from soundstage.files import atomic_path
from soundstage.store.blobs import (CHUNK, GC_GRACE, GC_GRACE_MIN, GuardedWrites, NewBlobs, StoredBlob, Unnamed,
                                    WriteGrant, altered, check_digest, check_sha256, export_verified, is_sha256, mismatch, rehashed_chunks)

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's smallest part (every part but the last)
MAX_PART_SIZE = 5 * 1024 * MIB  # S3's largest part and largest single PUT
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 64 * MIB

_IN_BUCKET = "altered in the bucket"
#: beside the content keys (never a content key: those are two hex digits, '/', 62 more)
_LEASES = "leases"   # <prefix>leases/<sha256>.<random>: a unit found this content and is about to name it
_TRASH = "trash"     # <prefix>trash/<sha256>.<random>: moved aside by gc while it checks again
_IN_CACHE = "the cached copy was altered"
#: a StoredBlob's birth when one conditional PUT created the object (``discard_created`` may remove it)
_ONE_CONDITIONAL_PUT = "one conditional PUT"
#: an object that disappears (gc) every time it was about to be reused: give up after this many tries
_PUT_TRIES = 8


@dataclass(frozen=True)
class S3Config:
    """Where the objects live and how to reach them; built by ``store.backends.parse_store_config``
    from ``[store]`` in soundstage.toml and the environment (credentials never come from the file)."""

    bucket: str
    cache_dir: Path
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    endpoint: str | None = None  # None: AWS S3 in ``region``
    region: str = "us-east-1"
    prefix: str = ""
    session_token: str | None = field(default=None, repr=False)
    part_size: int = DEFAULT_PART_SIZE
    upload_threads: int = 4  # parts in flight; memory use is at most this many parts (measured: DR010)
    addressing_style: str = "path"  # S3-compatible servers; "virtual" for bucket-named hosts
    ca_bundle: Path | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    #: the environment variables the credentials came from: what a render node is told to read
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    session_token_env: str | None = None

    def __post_init__(self) -> None:
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes")
        if not 1 <= self.upload_threads <= 16:
            raise ValueError("upload_threads must be between 1 and 16")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _stamp(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """What changes when a file is replaced or written to: a write always moves ctime, which no
    ordinary process can set back."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_up_to(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes: fewer only at the end of the stream (a socket may return short reads)."""
    parts, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class _PartHasher:
    """The whole-content SHA-256 and each part's SHA-256 in one reading pass; the two hashes run on
    two threads (hashlib releases the GIL on large buffers)."""

    def __init__(self, part_size: int) -> None:
        self.part_size = part_size
        self.whole = hashlib.sha256()
        self.part_digests: list[bytes] = []
        self.size = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soundstage-s3-hash")

    def add_part(self, data: bytes) -> None:
        side = self._pool.submit(self.whole.update, data)
        self.part_digests.append(hashlib.sha256(data).digest())
        side.result()
        self.size += len(data)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class S3Store(GuardedWrites):
    """``store.blobs.ContentStore`` on an S3-compatible bucket, with a local read-through cache."""

    def __init__(self, config: S3Config) -> None:
        GuardedWrites.__init__(self)
        if config.prefix and not config.prefix.endswith("/"):
            raise ValueError("an S3 key prefix ends with '/'")
        self.config = config
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.cache_dir = Path(config.cache_dir)
        self._client = make_client(config)
        self._stamps: dict[str, tuple[int, int, int, int, int]] = {}
        self._lock = threading.Lock()
        self._new = NewBlobs()
        self._copy_limit = MAX_PART_SIZE   # S3's largest single copy

    # ------------------------------------------------------------------ naming

    @property
    def location(self) -> str:
        where = self.config.endpoint or f"AWS S3 {self.config.region}"
        return f"s3://{self.bucket}/{self.prefix} at {where}"

    def key_for(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256[2:]}"

    def _cache_path(self, sha256: str) -> Path:
        return self.cache_dir / sha256[:2] / sha256[2:]

    def _cache_sub(self, name: str) -> Path:
        """``cache_dir/name``, both created owner-only when missing."""
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        sub = self.cache_dir / name
        sub.mkdir(exist_ok=True, mode=0o700)
        return sub

    def _cache_tmp(self) -> Path:
        return self._cache_sub("tmp")

    def scratch_dir(self) -> Path:
        """A local folder for temporary files (beside the cache, owner-only)."""
        return self._cache_sub("scratch")

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ writes

    def put_bytes(self, data: bytes, grant: WriteGrant, *, expected_sha256: str | None = None) -> StoredBlob:
        return self.put_stream(io.BytesIO(data), grant, expected_sha256=expected_sha256)

    def put_file(self, path: Path, grant: WriteGrant, *, expected_sha256: str | None = None) -> StoredBlob:
        """Store a local file: hashed once (the whole and each part), then sent part by part, each
        part checked by the server against the digest of the first reading - a file that changes
        in between is refused (IntegrityError) and nothing is stored."""
        self._accept(grant)
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= self.config.part_size:
                data = _read_up_to(fh, self.config.part_size + 1)
                if len(data) <= self.config.part_size:
                    return self._put_single(data, expected_sha256)
                fh.seek(0)  # it grew since fstat: take the multipart path
            self._check_part_count(size)
            hasher = _PartHasher(self.config.part_size)
            try:
                while data := _read_up_to(fh, self.config.part_size):
                    hasher.add_part(data)
            finally:
                hasher.close()
            return self._put_multipart(fh, hasher, expected_sha256)

    def put_stream(self, stream: BinaryIO, grant: WriteGrant, *,
                   expected_sha256: str | None = None) -> StoredBlob:
        """Store a stream's bytes. Up to one part: held in memory and sent in one PUT. Larger: copied
        to a file in the cache folder as it is hashed, sent from there, and then kept as the cached
        copy (it is verified content)."""
        self._accept(grant)
        first = _read_up_to(stream, self.config.part_size + 1)
        if len(first) <= self.config.part_size:
            return self._put_single(first, expected_sha256)
        hasher = _PartHasher(self.config.part_size)
        fd, spool_name = tempfile.mkstemp(dir=self._cache_tmp(), prefix="upload-")
        spool = Path(spool_name)
        try:
            with os.fdopen(fd, "w+b") as fh:
                pending, part_size = first, self.config.part_size
                while True:
                    data, pending = pending[:part_size], pending[part_size:]
                    if len(data) < part_size:
                        data += _read_up_to(stream, part_size - len(data))
                    if not data:
                        break
                    fh.write(data)
                    hasher.add_part(data)
                    self._check_part_count(hasher.size)
                hasher.close()
                fh.flush()
                os.fsync(fh.fileno())
                blob = self._put_multipart(fh, hasher, expected_sha256)
            self._keep_in_cache(spool, blob.sha256)
            return blob
        finally:
            hasher.close()
            spool.unlink(missing_ok=True)

    def _check_part_count(self, size: int) -> None:
        if -(-size // self.config.part_size) > MAX_PARTS:
            raise WorkspaceError(
                f"a file of {size} bytes needs more than {MAX_PARTS} parts of {self.config.part_size // MIB} MiB",
                hint="raise [store] part_size_mib in soundstage.toml")

    def _existing(self, sha256: str, size: int) -> StoredBlob | None:
        """The object already stored under ``sha256``, if any, to be reused; one of another size is
        not this content (IntegrityError: it was altered in the bucket).

        Found, it is leased before it is reused (``_lease``; then looked for again): gc keeps an
        object whose lease is younger than its grace, and re-reads the leases after it has moved
        what it will delete out of its name, so content a unit is about to name is never lost."""
        stored = self.stored_size(sha256)
        if stored is None:
            return None
        self._lease(sha256)
        stored = self.stored_size(sha256)   # gc may have moved it away before the lease: store it anew
        if stored is None:
            return None
        if stored != size:
            raise altered(sha256, _IN_BUCKET)
        return StoredBlob(sha256, size, None, created=False)

    def _put_single(self, data: bytes, expected_sha256: str | None) -> StoredBlob:
        digest = hashlib.sha256(data).digest()
        sha = digest.hex()
        if expected_sha256 is not None and sha != expected_sha256:
            raise mismatch(expected_sha256, sha)
        for _ in range(_PUT_TRIES):
            existing = self._existing(sha, len(data))
            if existing is not None:
                return existing
            try:
                answer = self._call(self._client.put_object, Bucket=self.bucket, Key=self.key_for(sha), Body=data,
                                    ContentLength=len(data), ChecksumSHA256=_b64(digest), IfNoneMatch="*")
            except _Precondition:
                continue  # an identical upload won the race: reuse it, leased like any found content
            if answer.get("ChecksumSHA256") not in (None, _b64(digest)):
                self._call(self._client.delete_object, Bucket=self.bucket, Key=self.key_for(sha))
                raise IntegrityError(f"the object store stored {sha[:12]}… with another checksum than was sent; "
                                     "nothing was stored")
            self._new.add(sha)
            # a conditional PUT that succeeded created the object alone (servers check If-None-Match
            # atomically for a single PUT: DR010's measurements): discard_created may take it back
            return StoredBlob(sha, len(data), None, created=True, birth=_ONE_CONDITIONAL_PUT)
        raise WorkspaceError(f"asset content {sha[:12]}… kept disappearing while it was stored",
                             hint="is soundstage gc --delete running with a grace period shorter than a unit of "
                                  "work? try again")

    def _put_multipart(self, fh: BinaryIO, hasher: _PartHasher, expected_sha256: str | None) -> StoredBlob:
        sha = hasher.whole.hexdigest()
        if expected_sha256 is not None and sha != expected_sha256:
            raise mismatch(expected_sha256, sha)
        self._check_part_count(hasher.size)
        existing = self._existing(sha, hasher.size)
        if existing is not None:
            return existing
        key, part_size, size = self.key_for(sha), self.config.part_size, hasher.size
        upload_id = self._call(self._client.create_multipart_upload, Bucket=self.bucket, Key=key,
                               ChecksumAlgorithm="SHA256")["UploadId"]
        fd = fh.fileno()

        def send(number: int) -> dict:
            offset = (number - 1) * part_size
            data = os.pread(fd, min(part_size, size - offset), offset)
            answer = self._call(self._client.upload_part, Bucket=self.bucket, Key=key, UploadId=upload_id,
                                PartNumber=number, Body=data, ContentLength=len(data),
                                ChecksumSHA256=_b64(hasher.part_digests[number - 1]))
            return {"PartNumber": number, "ETag": answer["ETag"],
                    "ChecksumSHA256": _b64(hasher.part_digests[number - 1])}

        try:
            with ThreadPoolExecutor(max_workers=self.config.upload_threads,
                                    thread_name_prefix="soundstage-s3-upload") as pool:
                parts = list(pool.map(send, range(1, len(hasher.part_digests) + 1)))
            try:
                done = self._call(self._client.complete_multipart_upload, Bucket=self.bucket, Key=key,
                                  UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*")
            except _Precondition:
                self._abort(key, upload_id)
                self._lease(sha)  # an identical upload won the race: reused, so leased like any found content
                return StoredBlob(sha, size, None, created=False)
        except BaseException:
            self._abort(key, upload_id)
            raise
        composite = f"{_b64(hashlib.sha256(b''.join(hasher.part_digests)).digest())}-{len(parts)}"
        if done.get("ChecksumSHA256") not in (None, composite):
            # the server assembled something other than our parts in our order: never keep it
            self._call(self._client.delete_object, Bucket=self.bucket, Key=key)
            raise IntegrityError(f"the object store assembled {sha[:12]}… from other parts than were sent; "
                                 "nothing was stored")
        self._new.add(sha)
        # no birth: two racing multipart uploads of the same content may both complete on some servers
        # (SeaweedFS 4.48, DR010), so this one cannot vouch it alone created the object; gc collects it
        return StoredBlob(sha, size, None, created=True)

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception:  # noqa: BLE001 - the first error is the one to report; gc aborts stale uploads
            pass

    def _keep_in_cache(self, verified: Path, sha256: str) -> None:
        """A file whose bytes were hashed to ``sha256`` while they were written becomes the cached copy."""
        target = self._cache_path(sha256)
        self._cache_sub(sha256[:2])
        os.chmod(verified, 0o444)
        os.replace(verified, target)
        with self._lock:
            self._stamps[sha256] = _stamp(os.lstat(target))

    # ------------------------------------------------------------------ transaction hooks

    def unit(self):
        """The scope of one unit of work: what it creates is its own to forget (``NewBlobs``)."""
        return self._new.unit()

    def commit_new(self) -> None:
        self._new.take()

    def forget_new(self) -> None:
        """The unit of work failed: its new objects stay for gc (never deleted here: another host
        may have stored the same content meanwhile and committed a row that names it)."""
        self._new.leave_for_gc()

    @property
    def left_for_gc(self) -> list[str]:
        """Objects failed units of work created, left for gc (``NewBlobs.left_for_gc``)."""
        return self._new.left_for_gc

    # ------------------------------------------------------------------ reads

    def exists(self, sha256: str) -> bool:
        return self.stored_size(sha256) is not None

    def stored_size(self, sha256: str) -> int | None:
        """The object's size from a HEAD request; None when there is no such object (not hashed)."""
        try:
            head = self._call(self._client.head_object, Bucket=self.bucket, Key=self.key_for(sha256))
        except NotFoundError:
            return None
        return int(head["ContentLength"])

    def iter_stored(self) -> Iterator[tuple[str, int]]:
        """(sha256, size) of every object under the prefix (for gc and audits)."""
        for sha, item in self._contents():
            yield sha, int(item["Size"])

    def _contents(self) -> Iterator[tuple[str, dict]]:
        """(sha256, listing entry) of every content object: ``<prefix>ab/cdef…``, nothing beside it
        (work areas, leases, the trash, stray keys)."""
        for item in self._listing(self.prefix):
            name = item["Key"][len(self.prefix):]
            if len(name) == 65 and name[2] == "/" and is_sha256(name[:2] + name[3:]):
                yield name[:2] + name[3:], item

    def verify(self, sha256: str) -> None:
        """Re-hash the object in the bucket (a full download); IntegrityError when it was altered.
        The verified bytes refresh the cached copy."""
        self._fetch(sha256)

    def path_for(self, sha256: str) -> Path:
        """A local file holding the content, for libraries that need a path: the cached copy,
        fetched from the bucket and hashed if it is not there, re-hashed if this process has not
        verified that very file; IntegrityError (and the bad copy removed) when it does not match."""
        check_sha256(sha256)
        return self._cached(sha256)

    def read_bytes(self, sha256: str) -> bytes:
        return b"".join(self.iter_verified(sha256))

    def iter_verified(self, sha256: str, *, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The content chunk by chunk, from a verified cached copy, hashed again as it is read (the
        last chunk held back until it matches), so a copy altered mid-read never arrives whole."""
        check_sha256(sha256)
        path = self._cached(sha256)
        handle = open(path, "rb")
        try:
            if _stamp(os.fstat(handle.fileno())) != self._stamps.get(sha256):
                check_digest(handle, sha256, _IN_CACHE)  # replaced since _cached checked it
                handle.seek(0)
        except BaseException:
            handle.close()
            raise
        return rehashed_chunks(handle, sha256, chunk_size, _IN_CACHE)

    def export_to(self, sha256: str, target: Path) -> Path:
        """Write the content to ``target`` (whose folder must exist): hash-checked as it is copied,
        through a temp file beside it that takes the name only when whole and intact; nothing at
        ``target`` replaced, a symlink there never followed. From the cached copy when this process
        verified one, else streamed from the bucket straight to the target (one download, no cache
        copy: an export is not a render)."""
        check_sha256(sha256)
        cached = self._cache_path(sha256)
        try:
            st = os.lstat(cached)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode) and _stamp(st) == self._stamps.get(sha256):
            return export_verified(self, sha256, target)
        with atomic_path(Path(target), make_parents=False, overwrite=False) as tmp:
            with open(tmp, "wb") as out:
                self._download(sha256, out)
        return Path(target)

    def _cached(self, sha256: str) -> Path:
        path = self._cache_path(sha256)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return self._fetch(sha256)
        if stat.S_ISREG(st.st_mode) and _stamp(st) == self._stamps.get(sha256):
            return path
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as fh:
                before = _stamp(os.fstat(fh.fileno()))
                good = hashlib.file_digest(fh, "sha256").hexdigest() == sha256
                after = _stamp(os.fstat(fh.fileno()))
            if good and before == after:
                with self._lock:
                    self._stamps[sha256] = after
                return path
        with self._lock:
            self._stamps.pop(sha256, None)
        path.unlink(missing_ok=True)
        raise IntegrityError(f"the cached copy of asset content {sha256[:12]}… in {self.cache_dir} was altered; "
                             "it was removed", hint="run again to fetch it from the bucket")

    def _fetch(self, sha256: str) -> Path:
        """Download the object into the cache, hashing as it arrives; nothing is kept unless it matches."""
        self.key_for(sha256)
        fd, tmp_name = tempfile.mkstemp(dir=self._cache_tmp(), prefix="fetch-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                self._download(sha256, out)
                out.flush()
                os.fsync(out.fileno())
            self._keep_in_cache(tmp, sha256)
            return self._cache_path(sha256)
        finally:
            tmp.unlink(missing_ok=True)

    def _download(self, sha256: str, out: BinaryIO) -> None:
        """The object's bytes into ``out``, hashed as they arrive; IntegrityError unless they match
        (the caller discards what was written)."""
        body = self._call(self._client.get_object, Bucket=self.bucket, Key=self.key_for(sha256))["Body"]
        try:
            digest = hashlib.sha256()
            while chunk := self._call(body.read, 8 * MIB):
                digest.update(chunk)
                out.write(chunk)
        finally:
            body.close()
        if digest.hexdigest() != sha256:
            raise altered(sha256, _IN_BUCKET)

    # ------------------------------------------------------------------ housekeeping

    def check_reachable(self) -> None:
        """WorkspaceError / BackendError unless the bucket answers with these credentials and the
        cache folder is writable (a render node's preflight)."""
        self._call(self._client.head_bucket, Bucket=self.bucket)
        self._cache_tmp()
        if not os.access(self.cache_dir, os.W_OK | os.X_OK):
            raise WorkspaceError(f"the S3 cache folder {self.cache_dir} is not writable",
                                 hint="fix [store] cache_dir or its permissions")

    def probe_server(self) -> None:
        """Check, with a throw-away object outside the content keys (``<prefix>.probe/…``), that the
        server does what the write path relies on: it refuses a body whose SHA-256 differs from the
        one sent with it, and it honours ``If-None-Match: *``. WorkspaceError naming what is missing."""
        key = f"{self.prefix}.probe/{os.getpid()}-{threading.get_ident()}-{os.urandom(6).hex()}"
        body = b"soundstage probe " + os.urandom(16)
        wrong = _b64(hashlib.sha256(body + b"!").digest())
        try:
            try:
                self._call(self._client.put_object, Bucket=self.bucket, Key=key, Body=body, ChecksumSHA256=wrong)
            except IntegrityError:
                pass
            else:
                raise WorkspaceError(f"the object store at {self.config.endpoint or self.config.region} stores a body "
                                     "whose SHA-256 differs from the one sent with it",
                                     hint="soundstage needs x-amz-checksum-sha256 verification; use another server")
            good = _b64(hashlib.sha256(body).digest())
            self._call(self._client.put_object, Bucket=self.bucket, Key=key, Body=body, ChecksumSHA256=good,
                       IfNoneMatch="*")
            try:
                self._call(self._client.put_object, Bucket=self.bucket, Key=key, Body=body, ChecksumSHA256=good,
                           IfNoneMatch="*")
            except _Precondition:
                pass
            else:
                raise WorkspaceError(f"the object store at {self.config.endpoint or self.config.region} ignores "
                                     "If-None-Match: * (conditional writes)",
                                     hint="soundstage never overwrites an object; use a server with conditional writes")
        finally:
            try:
                self._client.delete_object(Bucket=self.bucket, Key=key)
            except Exception:  # noqa: BLE001 - a leftover probe is harmless; the first error is the one to report
                pass

    def abort_stale_uploads(self, older_than: timedelta) -> int:
        """Abort multipart uploads under the prefix started longer ago than ``older_than`` (what a
        killed process leaves behind); returns how many. For gc."""
        cutoff = datetime.now(timezone.utc) - older_than
        aborted = 0
        kwargs: dict = {"Bucket": self.bucket, "Prefix": self.prefix}
        while True:
            page = self._call(self._client.list_multipart_uploads, **kwargs)
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < cutoff:
                    self._call(self._client.abort_multipart_upload, Bucket=self.bucket, Key=upload["Key"],
                               UploadId=upload["UploadId"])
                    aborted += 1
            if not page.get("IsTruncated"):
                return aborted
            kwargs.update(KeyMarker=page.get("NextKeyMarker"), UploadIdMarker=page.get("NextUploadIdMarker"))

    # ------------------------------------------------------------------ garbage collection

    def _lease(self, sha256: str) -> None:
        """An empty object ``<prefix>leases/<sha256>.<random>``: its time (the server's) says that a
        unit of work found this content and is about to name it (the local folder touches the file;
        an object's time cannot be changed without copying it). Every lease is a key of its own, so
        gc, deleting the stale leases it listed, can never delete one taken since."""
        self._call(self._client.put_object, Bucket=self.bucket,
                   Key=f"{self.prefix}{_LEASES}/{sha256}.{os.urandom(8).hex()}", Body=b"", ContentLength=0)

    def _listing(self, prefix: str) -> Iterator[dict]:
        """Every object under ``prefix`` (Key, Size, LastModified), page by page."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": 1000}
        while True:
            page = self._call(self._client.list_objects_v2, **kwargs)
            yield from page.get("Contents", [])
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def _leases(self) -> dict[str, list[tuple[str, datetime]]]:
        """Every lease, by the content it leases: (its key, its time)."""
        out: dict[str, list[tuple[str, datetime]]] = {}
        for item in self._listing(f"{self.prefix}{_LEASES}/"):
            sha = item["Key"].rsplit("/", 1)[-1].split(".", 1)[0]
            if is_sha256(sha):
                out.setdefault(sha, []).append((item["Key"], item["LastModified"]))
        return out

    def server_time(self) -> datetime:
        """The object server's clock (its Date header): object and lease times are the server's."""
        answer = self._call(self._client.head_bucket, Bucket=self.bucket)
        date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        return parsedate_to_datetime(date) if date else datetime.now(timezone.utc)

    def url_for(self, sha256: str) -> str:
        return f"s3://{self.bucket}/{self.key_for(sha256)}"

    def collect_garbage(self, named: Callable[[], set[str]], *, older_than: timedelta = GC_GRACE,
                        delete: bool = False, now: datetime | None = None) -> list[Unnamed]:
        """Objects that no ledger row names (``named()``: every sha256 the ledger names, read fresh),
        stored and last leased longer than ``older_than`` ago by the server's clock (``now``: for
        tests); with ``delete`` they are removed. Without it nothing is touched.

        The local folder's protocol (``AssetStore.collect_garbage``) with what a bucket offers: each
        object is first moved out of its name (a server-side copy into ``<prefix>trash/``, then the
        delete), so from then on no unit can find it (one that looks stores it anew); then the ledger
        and the leases are read again, and an object a unit named or leased meanwhile goes back (a
        unit leases what it found before it looks again, so one that found the object before the
        move has a lease younger than the grace). The rest is removed from the trash, with its
        lease and this host's cached copy; leases older than the grace guard nothing and go too. A
        gc killed half-way leaves objects in the trash; the next ``delete`` settles them by the same
        rule; a ledger that cannot be read the second time puts every moved object back."""
        if older_than < GC_GRACE_MIN:
            raise ValueError(f"the grace period must be at least {GC_GRACE_MIN} (longer than any unit of work)")
        now = now or self.server_time()
        cutoff = now - older_than
        names, leases = named(), self._leases()
        found: list[Unnamed] = []
        for sha, item in self._contents():
            if sha not in names and item["LastModified"] < cutoff and not _young(leases, sha, cutoff):
                found.append(Unnamed(sha, int(item["Size"]), self.url_for(sha),
                                     (now - item["LastModified"]).total_seconds()))
        if not delete:
            return sorted(found, key=lambda u: u.sha256)
        moved: list[tuple[Unnamed, str]] = []
        for unnamed in found:
            held = self._into_trash(unnamed)
            if held is not None:
                moved.append((unnamed, held))
        ours = {held for _, held in moved}
        for item in self._listing(f"{self.prefix}{_TRASH}/"):   # what a killed gc left moved aside
            sha = item["Key"].rsplit("/", 1)[-1].split(".", 1)[0]
            if item["Key"] not in ours and is_sha256(sha):
                moved.append((Unnamed(sha, int(item["Size"]), self.url_for(sha),
                                      (now - item["LastModified"]).total_seconds()), item["Key"]))
        # a unit named or leased it meanwhile: it goes back
        removed, leases = self._settle(moved, named, lambda sha, names, leases: sha in names
                                       or _young(leases, sha, cutoff))
        for taken in leases.values():   # the stale leases listed, each by its own key (never one taken since)
            for key, when in taken:
                if when < cutoff:
                    self._call(self._client.delete_object, Bucket=self.bucket, Key=key)
        return sorted(removed, key=lambda u: u.sha256)

    def _into_trash(self, unnamed: Unnamed) -> str | None:
        """The first half of gc's protocol for one object: copied into the trash, then deleted from its
        name (from then on a unit that looks stores it anew). Returns the trash key, or None when the
        object is gone already."""
        held = f"{self.prefix}{_TRASH}/{unnamed.sha256}.{os.urandom(4).hex()}"
        try:
            self._copy(self.key_for(unnamed.sha256), held, unnamed.size)
        except NotFoundError:
            return None
        self._call(self._client.delete_object, Bucket=self.bucket, Key=self.key_for(unnamed.sha256))
        return held

    def _settle(self, moved: list[tuple[Unnamed, str]], named: Callable[[], set[str]],
                keep: Callable[[str, set[str], dict], bool]) -> tuple[list[Unnamed], dict]:
        """The second half of gc's protocol, for objects already moved into the trash: the ledger's
        names and the leases read again (a ledger that cannot be read puts every moved object back),
        then each object goes back where ``keep(sha256, names, leases)`` says so, or is deleted for
        good with its cached copy. Returns what was deleted, and the leases read."""
        try:
            names, leases = named(), self._leases()
        except BaseException:
            for unnamed, held in moved:
                self._restore(held, unnamed)
            raise
        removed = []
        for unnamed, held in moved:
            if keep(unnamed.sha256, names, leases):
                self._restore(held, unnamed)
                continue
            self._call(self._client.delete_object, Bucket=self.bucket, Key=held)
            self._cache_path(unnamed.sha256).unlink(missing_ok=True)
            with self._lock:
                self._stamps.pop(unnamed.sha256, None)
            removed.append(unnamed)
        return removed, leases

    def discard_created(self, blobs: Sequence[StoredBlob], named: Callable[[], set[str]]) -> list[str]:
        """Remove, now, the objects these writes created alone (one conditional PUT: ``birth``) that
        no ledger row names and no unit has leased: ``collect_garbage``'s rule with each write as its
        cutoff. Each object is moved into the trash first (a copy, then the delete: from then on a
        unit that looks stores it anew), then the ledger and the leases are read again; an object
        named, or leased at all (a unit that found it leases it before it looks again), goes back.
        Returns the sha256s removed; the rest stays for gc. A ledger that cannot be read puts every
        moved object back."""
        moved: list[tuple[Unnamed, str]] = []
        for blob in blobs:
            if (not blob.created or blob.birth != _ONE_CONDITIONAL_PUT
                    or any(blob.sha256 == m.sha256 for m, _ in moved)):
                continue
            unnamed = Unnamed(blob.sha256, blob.size, self.url_for(blob.sha256), 0.0)
            held = self._into_trash(unnamed)
            if held is not None:
                moved.append((unnamed, held))
        if not moved:
            return []
        # a unit named or found it meanwhile (leased it at all): it goes back
        settled, _ = self._settle(moved, named, lambda sha, names, leases: sha in names or sha in leases)
        removed = [unnamed.sha256 for unnamed in settled]
        self._new.settled(removed)
        return removed

    def _restore(self, held: str, unnamed: Unnamed) -> None:
        """Put an object gc moved aside back under its name (identical bytes if it was stored anew).
        Its copy in the trash may be gone: another gc running at the same time settled it, by the
        same rule - put back (named or leased), or deleted while neither, and then no unit can have
        named it without storing it anew (it was not at its name to be found)."""
        try:
            self._copy(held, self.key_for(unnamed.sha256), unnamed.size)
        except NotFoundError:
            return
        self._call(self._client.delete_object, Bucket=self.bucket, Key=held)

    def _copy(self, source: str, target: str, size: int) -> None:
        """A server-side copy (nothing passes through this host): one request up to S3's 5 GiB,
        else a multipart copy in parts of the store's part size."""
        where = {"Bucket": self.bucket, "Key": source}
        if size <= self._copy_limit:
            self._call(self._client.copy_object, Bucket=self.bucket, Key=target, CopySource=where)
            return
        upload_id = self._call(self._client.create_multipart_upload, Bucket=self.bucket, Key=target)["UploadId"]
        try:
            parts, part_size = [], self.config.part_size
            for number, offset in enumerate(range(0, size, part_size), start=1):
                answer = self._call(self._client.upload_part_copy, Bucket=self.bucket, Key=target, UploadId=upload_id,
                                    PartNumber=number, CopySource=where,
                                    CopySourceRange=f"bytes={offset}-{min(offset + part_size, size) - 1}")
                parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
            self._call(self._client.complete_multipart_upload, Bucket=self.bucket, Key=target, UploadId=upload_id,
                       MultipartUpload={"Parts": parts})
        except BaseException:
            self._abort(target, upload_id)
            raise

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One S3 request, with the client library's errors turned into soundstage's."""
        try:
            return fn(*args, **kwargs)
        except SoundstageError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated below, or re-raised as it is
            raise _translate(exc, self, kwargs.get("Key")) from exc


def _young(leases: dict[str, list[tuple[str, datetime]]], sha256: str, cutoff: datetime) -> bool:
    """A lease taken at or after the cutoff: a unit may still be about to name the content."""
    return any(when >= cutoff for _, when in leases.get(sha256, ()))


class _Precondition(SoundstageError):
    """If-None-Match: * failed - the object exists (internal; never leaves this module)."""


def _translate(exc: Exception, store: S3Store, key: str | None) -> Exception:
    import botocore.exceptions as bx

    where = store.config.endpoint or f"AWS S3 ({store.config.region})"
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("PreconditionFailed", "412") or status == 412:
            return _Precondition("the object already exists")
        if code == "NoSuchBucket" or (status == 404 and exc.operation_name == "HeadBucket"):
            return WorkspaceError(f"the bucket {store.bucket!r} does not exist at {where}",
                                  hint="create it, or fix [store] bucket in soundstage.toml")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            name = (key or "")[len(store.prefix):].replace("/", "")
            return NotFoundError(f"asset content {name[:12]}… is missing from the store (s3://{store.bucket}/{key})"
                                 if key else f"not found at {where} ({exc.operation_name})")
        if code in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest"):
            return IntegrityError("the object store received bytes that do not match their SHA-256; "
                                  "nothing was stored", hint="the source changed while it was being stored, "
                                  "or the network altered it; try again")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403") or status == 403:
            return WorkspaceError(f"the object store at {where} refused the credentials ({code})",
                                  hint="check the variables named by [store] access_key_env and secret_key_env")
        return BackendError(f"the object store at {where} answered {code or status}: "
                            f"{' '.join(str(error.get('Message', '')).split())[:200]}")
    if isinstance(exc, bx.BotoCoreError):
        return BackendError(f"cannot use the object store at {where}: {' '.join(str(exc).split())[:200]}",
                            hint="check [store] endpoint and that the server is running")
    return exc


def make_client(config: S3Config) -> Any:
    """A botocore S3 client from ``config`` only: no AWS profile, config file or endpoint variable
    of the environment can redirect it (explicit over magic)."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session()
    session.set_config_variable("config_file", os.devnull)
    session.set_config_variable("credentials_file", os.devnull)
    return session.create_client(
        "s3", region_name=config.region, endpoint_url=config.endpoint,
        aws_access_key_id=config.access_key, aws_secret_access_key=config.secret_key,
        aws_session_token=config.session_token,
        verify=str(config.ca_bundle) if config.ca_bundle else True,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": config.addressing_style, "payload_signing_enabled": False},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
            max_pool_connections=max(10, config.upload_threads * 2),
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
            ignore_configured_endpoint_urls=True, user_agent_appid="soundstage", tcp_keepalive=True,
        ))
