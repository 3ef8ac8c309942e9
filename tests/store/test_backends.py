"""The storage interface's behaviour, asked of both backends: the local folder and S3 (a real
SeaweedFS server). What differs by design is said where it differs (a failed unit of work)."""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading

import pytest

from soundstage.errors import AlreadyExistsError, IntegrityError, NotFoundError, RefusedError
from soundstage.safeguards import guard
from soundstage.store.assets import AssetStore, WriteGrant
from soundstage.store.blobs import ContentStore
from soundstage.store.s3 import S3Store

MULTIPART = 12 * 1024 * 1024 + 17  # three 5 MiB parts on the S3 test stores


def _grant(store):
    return guard._grant(store, "test")


def _random(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def _files_in(folder) -> list:
    return sorted(folder.rglob("*")) if folder.exists() else []


def _nothing_stored(store) -> None:
    """No object, no temp file, no multipart upload in progress."""
    assert list(store.iter_stored()) == []
    if isinstance(store, AssetStore):
        assert _files_in(store.root / "tmp") == []
    else:
        raw = store._client
        assert raw.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix).get("KeyCount", 0) == 0
        assert raw.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix).get("Uploads", []) == []
        assert _files_in(store.cache_dir / "tmp") == []


def _tamper(store, sha: str, data: bytes, s3_raw=None) -> None:
    """Replace stored content behind the store's back."""
    if isinstance(store, AssetStore):
        path = store.path_for(sha)
        os.chmod(path, 0o644)
        path.write_bytes(data)
    else:
        s3_raw.put_object(Bucket=store.bucket, Key=store.key_for(sha), Body=data)


def test_both_backends_are_content_stores(content_store):
    assert isinstance(content_store, ContentStore)
    content_store.check_reachable()
    assert content_store.location


@pytest.mark.parametrize("size", [0, 11, MULTIPART])
def test_round_trip_by_bytes_file_and_stream(content_store, tmp_path, size):
    data = _random(size, seed=size)
    sha = hashlib.sha256(data).hexdigest()
    first = content_store.put_bytes(data, _grant(content_store))
    assert (first.sha256, first.size, first.created) == (sha, size, True)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    again = content_store.put_file(source, _grant(content_store))
    assert (again.sha256, again.size, again.created) == (sha, size, False)  # never stored twice
    streamed = content_store.put_stream(io.BufferedReader(io.BytesIO(data)), _grant(content_store))
    assert (streamed.sha256, streamed.created) == (sha, False)
    assert content_store.exists(sha) and content_store.stored_size(sha) == size
    assert list(content_store.iter_stored()) == [(sha, size)]
    content_store.verify(sha)
    assert content_store.read_bytes(sha) == data
    assert b"".join(content_store.iter_verified(sha, chunk_size=1 << 20)) == data
    assert content_store.path_for(sha).read_bytes() == data
    out = tmp_path / "out"
    out.mkdir()
    assert content_store.export_to(sha, out / "take.bin").read_bytes() == data


def test_put_file_of_several_parts_then_a_stream_of_other_content(content_store, tmp_path):
    a, b = _random(MULTIPART, 1), _random(MULTIPART, 2)
    (tmp_path / "a").write_bytes(a)
    blob_a = content_store.put_file(tmp_path / "a", _grant(content_store))
    blob_b = content_store.put_stream(io.BytesIO(b), _grant(content_store))
    assert blob_a.created and blob_b.created
    assert sorted(content_store.iter_stored()) == sorted([(hashlib.sha256(a).hexdigest(), len(a)),
                                                          (hashlib.sha256(b).hexdigest(), len(b))])
    assert content_store.read_bytes(blob_b.sha256) == b
    assert content_store.read_bytes(blob_a.sha256) == a


def test_no_write_without_the_guards_grant(content_store, tmp_path):
    other = guard.adopt_store(AssetStore(tmp_path / "other"))
    for forged in (WriteGrant("forged"), object(), guard._grant(other, "t")):
        with pytest.raises(RefusedError):
            content_store.put_bytes(b"deepfake", forged)  # type: ignore[arg-type]
        with pytest.raises(RefusedError):
            content_store.put_stream(io.BytesIO(_random(MULTIPART)), forged)  # type: ignore[arg-type]
    (tmp_path / "f").write_bytes(b"deepfake")
    with pytest.raises(RefusedError):
        content_store.put_file(tmp_path / "f", WriteGrant("forged"))
    with pytest.raises(RefusedError, match="already handed over"):
        content_store.hand_over_write_capability()
    grant = _grant(content_store)
    content_store.put_bytes(b"one", grant)
    with pytest.raises(RefusedError, match="already used"):
        content_store.put_bytes(b"two", grant)
    assert [sha for sha, _ in content_store.iter_stored()] == [hashlib.sha256(b"one").hexdigest()]


@pytest.mark.parametrize("size", [5, MULTIPART])
@pytest.mark.parametrize("how", ["bytes", "file", "stream"])
def test_content_that_does_not_hash_to_the_claimed_sha_is_refused_and_nothing_is_left(content_store, tmp_path,
                                                                                       size, how):
    data = _random(size, 3)
    claimed = hashlib.sha256(data + b"x").hexdigest()
    (tmp_path / "f").write_bytes(data)
    with pytest.raises(IntegrityError, match="not the claimed"):
        if how == "bytes":
            content_store.put_bytes(data, _grant(content_store), expected_sha256=claimed)
        elif how == "file":
            content_store.put_file(tmp_path / "f", _grant(content_store), expected_sha256=claimed)
        else:
            content_store.put_stream(io.BytesIO(data), _grant(content_store), expected_sha256=claimed)
    _nothing_stored(content_store)
    ok = content_store.put_bytes(data, _grant(content_store), expected_sha256=hashlib.sha256(data).hexdigest())
    assert ok.created


@pytest.mark.parametrize("size", [300_000, MULTIPART])
def test_concurrent_identical_puts_store_one_object(content_store, tmp_path, size):
    data = _random(size, 4)
    sha = hashlib.sha256(data).hexdigest()
    source = tmp_path / "plate.bin"
    source.write_bytes(data)
    gate = threading.Barrier(4)
    results, errors = [], []

    def put(i: int) -> None:
        grant = _grant(content_store)
        gate.wait()
        try:
            if i % 2:
                results.append(content_store.put_file(source, grant))
            else:
                results.append(content_store.put_stream(io.BytesIO(data), grant))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r.sha256 for r in results} == {sha}
    if isinstance(content_store, S3Store) and size > content_store.config.part_size:
        # SeaweedFS 4.48 checks If-None-Match on CompleteMultipartUpload before it writes, not
        # atomically: racing completes of the same (verified, identical) parts may all succeed (DR010)
        assert sum(r.created for r in results) >= 1
    else:
        assert sum(r.created for r in results) == 1  # exactly one writer created it
    assert list(content_store.iter_stored()) == [(sha, len(data))]
    content_store.verify(sha)
    if isinstance(content_store, S3Store):
        raw = content_store._client
        assert raw.list_multipart_uploads(Bucket=content_store.bucket,
                                          Prefix=content_store.prefix).get("Uploads", []) == []


@pytest.mark.parametrize("size", [7, MULTIPART])
def test_content_altered_behind_the_stores_back_is_caught(content_store, tmp_path, request, size):
    s3_raw = request.getfixturevalue("s3_raw") if isinstance(content_store, S3Store) else None
    data = _random(size, 5)
    blob = content_store.put_bytes(data, _grant(content_store))
    content_store.commit_new()
    forged = bytearray(data)
    forged[len(forged) // 2] ^= 0xFF  # same size: only hashing tells
    _tamper(content_store, blob.sha256, bytes(forged), s3_raw)
    if isinstance(content_store, S3Store):
        for cached in content_store.cache_dir.rglob("*"):
            if cached.is_file():
                cached.unlink()  # a host that has not cached it yet
    with pytest.raises(IntegrityError):
        content_store.verify(blob.sha256)
    with pytest.raises(IntegrityError):
        content_store.iter_verified(blob.sha256)  # refused before anything can be read
    with pytest.raises(IntegrityError):
        content_store.read_bytes(blob.sha256)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError):
        content_store.export_to(blob.sha256, out / "shot.bin")
    assert list(out.iterdir()) == []
    if isinstance(content_store, S3Store):
        with pytest.raises(IntegrityError):
            content_store.path_for(blob.sha256)  # never a path to unverified bytes
        assert not content_store._cache_path(blob.sha256).exists()
        assert [p for p in (content_store.cache_dir / "tmp").iterdir()] == []
    # content of another size at the key is caught even by a put of the genuine bytes
    _tamper(content_store, blob.sha256, bytes(forged) + b"!", s3_raw)
    if isinstance(content_store, S3Store):
        with pytest.raises(IntegrityError, match="altered in the bucket"):
            content_store.put_bytes(data, _grant(content_store))


def test_missing_content_and_bad_digests(content_store):
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not content_store.exists(sha) and content_store.stored_size(sha) is None
    with pytest.raises(NotFoundError, match="missing"):
        content_store.verify(sha)
    with pytest.raises(NotFoundError, match="missing"):
        content_store.read_bytes(sha)
    for bad in ("../../etc/passwd", "A" * 64, sha[:63], sha + "0"):
        with pytest.raises(NotFoundError, match="not a sha256"):
            content_store.path_for(bad)
        with pytest.raises(NotFoundError, match="not a sha256"):
            content_store.verify(bad)


def test_export_never_overwrites_and_never_follows_a_symlink(content_store, tmp_path):
    blob = content_store.put_bytes(b"the take", _grant(content_store))
    out = tmp_path / "out"
    out.mkdir()
    content_store.export_to(blob.sha256, out / "take.txt")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        content_store.export_to(blob.sha256, out / "take.txt")
    (out / "link.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(AlreadyExistsError, match="symlink"):
        content_store.export_to(blob.sha256, out / "link.txt")
    assert not (tmp_path / "elsewhere.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["link.txt", "take.txt"]


def test_a_failed_unit_of_work(content_store):
    """What the failed unit created stays, named by nothing, for gc (DR010), and is recorded; both backends."""
    kept = content_store.put_bytes(b"committed", _grant(content_store))
    content_store.commit_new()
    new = content_store.put_bytes(b"rolled back", _grant(content_store))
    old_again = content_store.put_bytes(b"committed", _grant(content_store))  # not created: not forgotten
    content_store.forget_new()
    assert content_store.exists(kept.sha256) and not old_again.created
    assert content_store.exists(new.sha256)
    assert content_store.left_for_gc == [new.sha256]
    content_store.forget_new()  # nothing new since: nothing more happens
    assert content_store.exists(kept.sha256) and content_store.left_for_gc == [new.sha256]


def test_a_failed_unit_forgets_only_what_it_created_itself(content_store):
    """Requests share one workspace (one store): a unit of work that fails while another is still
    open must not take the other's new blob with it (both run in their own threads, as requests do)."""
    other_put, failed = threading.Event(), threading.Event()
    blobs = {}

    def other():
        with content_store.unit():
            blobs["other"] = content_store.put_bytes(b"the other request's plate", _grant(content_store))
            other_put.set()
            failed.wait(10)
            content_store.commit_new()

    def failing():
        with content_store.unit():
            other_put.wait(10)
            blobs["failing"] = content_store.put_bytes(b"rolled back", _grant(content_store))
            content_store.forget_new()
            failed.set()

    threads = [threading.Thread(target=other), threading.Thread(target=failing)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert content_store.exists(blobs["other"].sha256)  # the other unit's blob stays
    assert content_store.left_for_gc == [blobs["failing"].sha256]  # only the failing unit's is left for gc


def test_content_a_failed_unit_created_stays_for_the_unit_that_found_it(content_store, monkeypatch):
    """The race DR010's 2026-12-06 amendment left open, made deterministic: unit A creates X and
    fails; unit B (another request, its own thread) finds X already stored and commits a row naming
    it at the instant A's rollback would remove X - after any check A made, before the removal. B's
    row must name content that is there and intact."""
    data = b"the same plate, uploaded by two requests at once"
    sha = hashlib.sha256(data).hexdigest()
    rows: dict = {}  # unit B's committed row

    def unit_b() -> None:
        with content_store.unit():
            blob = content_store.put_bytes(data, _grant(content_store))
            content_store.commit_new()
            rows["b"] = blob

    blob_file = content_store.path_for(sha) if isinstance(content_store, AssetStore) else None
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if blob_file is not None and os.fspath(path) == os.fspath(blob_file) and "b" not in rows:
            b = threading.Thread(target=unit_b)  # B commits now, between A's check and A's removal
            b.start()
            b.join(20)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    with content_store.unit():
        a = content_store.put_bytes(data, _grant(content_store))
        assert a.created
        content_store.forget_new()  # unit A's rollback
    if "b" not in rows:  # the rollback removed nothing: B comes right after it
        unit_b()
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert not rows["b"].created  # B found A's content and stored nothing itself
    content_store.verify(sha)
    assert content_store.read_bytes(sha) == data


# ---------------------------------------------------------------- discarding what a failed job created

def _unreadable_ledger():
    from soundstage.errors import IntegrityError as Unreadable

    def ledger() -> set:
        raise Unreadable("the ledger is unreadable")

    return ledger


def test_discard_created_removes_only_what_the_writes_created_and_nothing_names(content_store):
    """gc's rule at once, for what one failed piece of work stored (the guard's job outputs): content
    it created, that no ledger row names, goes; content it only found already stored (an existing
    asset's bytes), and content a row names, stay."""
    existing = content_store.put_bytes(b"an existing asset's bytes", _grant(content_store))
    content_store.commit_new()
    with content_store.unit():
        again = content_store.put_bytes(b"an existing asset's bytes", _grant(content_store))
        new = content_store.put_bytes(b"the failed job's first output", _grant(content_store))
        named = content_store.put_bytes(b"created here, and named by a row meanwhile", _grant(content_store))
        content_store.forget_new()
    assert not again.created and new.created and named.created
    removed = content_store.discard_created([again, new, named], lambda: {existing.sha256, named.sha256})
    assert removed == [new.sha256]
    assert not content_store.exists(new.sha256)
    content_store.verify(existing.sha256)
    content_store.verify(named.sha256)
    assert content_store.left_for_gc == [named.sha256]  # what stays is still left for gc
    assert content_store.discard_created([new], set) == []  # gone already: nothing more happens


def test_discard_created_keeps_content_another_unit_found_since(content_store):
    """Another unit of work (another job, another request), still open, found the content after the
    failed one created it and will name it when it commits: it reused it (the folder's file touched,
    the bucket's object leased), so it stays - whatever the ledger says now."""
    data = b"the same output bytes, produced by two jobs"
    with content_store.unit():
        created = content_store.put_bytes(data, _grant(content_store))
        content_store.forget_new()
    with content_store.unit():
        found = content_store.put_bytes(data, _grant(content_store))  # in flight: not committed yet
        assert not found.created
        assert content_store.discard_created([created], set) == []
        content_store.commit_new()
    content_store.verify(created.sha256)
    assert content_store.read_bytes(created.sha256) == data


@pytest.mark.parametrize("moment", ["before the move", "after the move"])
def test_a_unit_that_finds_the_content_while_it_is_discarded_keeps_it(content_store, monkeypatch, moment):
    """The race gc closes, closed here too: another unit finds the content just before it is moved
    aside (then the moved copy shows the reuse and goes back), or after (then the name is empty and the
    unit stores the content anew). Either way what it names is there."""
    data = b"found by another unit while the failed job takes its output back"
    with content_store.unit():
        created = content_store.put_bytes(data, _grant(content_store))
        content_store.forget_new()
    found: list = []

    def other_unit() -> None:
        if not found:
            with content_store.unit():
                found.append(content_store.put_bytes(data, _grant(content_store)))
                content_store.commit_new()

    if moment == "before the move":
        if isinstance(content_store, AssetStore):
            real_rename = os.rename

            def rename(src, dst, *args, **kwargs):
                other_unit()
                return real_rename(src, dst, *args, **kwargs)

            monkeypatch.setattr(os, "rename", rename)
        else:
            real_copy = content_store._copy

            def copy(*args, **kwargs):
                other_unit()
                return real_copy(*args, **kwargs)

            monkeypatch.setattr(content_store, "_copy", copy)
        names = set
    else:
        def names() -> set:
            other_unit()
            return set()

    content_store.discard_created([created], names)
    monkeypatch.undo()
    assert len(found) == 1
    content_store.verify(created.sha256)
    assert content_store.read_bytes(created.sha256) == data
    assert list(content_store.iter_stored()) == [(created.sha256, len(data))]


def test_a_ledger_that_cannot_be_read_puts_the_discarded_content_back(content_store):
    with content_store.unit():
        created = content_store.put_bytes(b"nothing is removed while the ledger cannot be read", _grant(content_store))
        content_store.forget_new()
    with pytest.raises(IntegrityError, match="unreadable"):
        content_store.discard_created([created], _unreadable_ledger())
    content_store.verify(created.sha256)
