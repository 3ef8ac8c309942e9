"""What only the S3 backend has: multipart plates, the server's own checks, the read-through cache and
its poisoning, credentials and reachability - all against a real SeaweedFS server."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import random
import threading
import tracemalloc
from datetime import timedelta

import pytest

from soundstage.errors import BackendError, IntegrityError, NotFoundError, WorkspaceError
from soundstage.safeguards import guard
from soundstage.store.backends import open_store, parse_store_config
from soundstage.store.s3 import MIB, S3Store, _PartHasher


def _grant(store):
    return guard._grant(store, "test")


def _write_random(path, size: int, seed: int) -> str:
    rng, digest = random.Random(seed), hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = rng.randbytes(min(left, 8 * MIB))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _uploads(store) -> list:
    return store._client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix).get("Uploads", [])


def _objects(store) -> list[str]:
    return [o["Key"] for o in store._client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
            .get("Contents", [])]


@pytest.mark.slow
def test_a_plate_over_100_mb_goes_up_in_bounded_parts_and_comes_back_whole(make_s3_store, s3_raw, tmp_path):
    store = make_s3_store(part_size=64 * MIB, upload_threads=2)
    plate = tmp_path / "A001_C005.mov"
    size = 150 * 1000 * 1000
    sha = _write_random(plate, size, seed=14)
    tracemalloc.start()
    try:
        blob = store.put_file(plate, _grant(store))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (blob.sha256, blob.size, blob.created) == (sha, size, True)
    # memory: the parts in flight plus the one being hashed, never the whole plate
    assert peak < (2 + 1) * 64 * MIB + 16 * MIB, f"peak {peak / MIB:.0f} MiB"
    head = s3_raw.head_object(Bucket=store.bucket, Key=store.key_for(sha), PartNumber=1)
    assert head["PartsCount"] == 3 and head["ContentLength"] == 64 * MIB
    body, digest = s3_raw.get_object(Bucket=store.bucket, Key=store.key_for(sha))["Body"], hashlib.sha256()
    while chunk := body.read(8 * MIB):
        digest.update(chunk)
    assert digest.hexdigest() == sha  # the bucket holds exactly the plate
    assert _uploads(store) == []
    cached = store.path_for(sha)  # fetched, hashed, then a path render libraries can open
    assert cached.stat().st_size == size and oct(cached.stat().st_mode & 0o777) == oct(0o444)
    out = tmp_path / "out"
    out.mkdir()
    assert hashlib.file_digest(open(store.export_to(sha, out / "plate.mov"), "rb"), "sha256").hexdigest() == sha


@pytest.mark.slow
def test_a_large_unseekable_stream_is_spooled_and_kept_as_the_verified_cached_copy(make_s3_store, tmp_path):
    store = make_s3_store(part_size=16 * MIB)
    size = 100 * 1000 * 1000 + 3
    source = tmp_path / "plate.bin"
    sha = _write_random(source, size, seed=15)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with open(source, "rb") as src, os.fdopen(write_fd, "wb") as pipe:
            while chunk := src.read(1 * MIB):
                pipe.write(chunk)

    feeder = threading.Thread(target=feed)
    feeder.start()
    with os.fdopen(read_fd, "rb") as pipe:
        assert not pipe.seekable()
        blob = store.put_stream(pipe, _grant(store))
    feeder.join()
    assert (blob.sha256, blob.size, blob.created) == (sha, size, True)
    assert store.stored_size(sha) == size
    cached = store._cache_path(sha)
    assert cached.is_file() and store.path_for(sha) == cached  # no download: the spool became the copy
    assert [p for p in (store.cache_dir / "tmp").iterdir()] == []


def test_a_file_that_changes_between_hashing_and_sending_is_refused_by_the_server(make_s3_store, tmp_path):
    """The parts go up with the SHA-256 of the first reading; the server checks each one."""
    store = make_s3_store()
    part = store.config.part_size
    original, changed, truncated = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    data = random.Random(1).randbytes(2 * part + 100)
    original.write_bytes(data)
    edited = bytearray(data)
    edited[part + 5] ^= 1  # one bit in the second part
    changed.write_bytes(bytes(edited))
    truncated.write_bytes(data[:-50])
    for source in (changed, truncated):
        hasher = _PartHasher(part)
        with open(original, "rb") as fh:
            while chunk := fh.read(part):
                hasher.add_part(chunk)
        hasher.close()
        with open(source, "rb") as fh, pytest.raises(IntegrityError) as caught:
            store._put_multipart(fh, hasher, None)
        assert "nothing was stored" in caught.value.one_line()
        assert _objects(store) == [] and _uploads(store) == []


def test_the_server_checks_what_the_write_path_relies_on(make_s3_store, s3_raw):
    store = make_s3_store()
    store.probe_server()  # refuses a body with a wrong SHA-256; honours If-None-Match: *
    assert _objects(store) == []
    with pytest.raises(Exception, match="BadDigest"):  # the raw protocol, as measured for DR010
        s3_raw.put_object(Bucket=store.bucket, Key=store.prefix + "x", Body=b"abc",
                          ChecksumSHA256=base64.b64encode(hashlib.sha256(b"abd").digest()).decode())


def test_a_poisoned_cache_is_caught_and_healed_from_the_bucket(make_s3_store, tmp_path):
    store = make_s3_store()
    data = random.Random(2).randbytes(300_000)
    sha = store.put_bytes(data, _grant(store)).sha256
    path = store.path_for(sha)
    assert path.read_bytes() == data and path.is_relative_to(store.cache_dir)
    stat = path.stat()
    os.chmod(path, 0o644)
    forged = bytearray(data)
    forged[1000] ^= 0x40
    path.write_bytes(bytes(forged))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime: only ctime and the hash tell
    with pytest.raises(IntegrityError, match="cached copy .* was altered"):
        store.path_for(sha)
    assert not path.exists()  # the bad copy is gone ...
    assert store.path_for(sha).read_bytes() == data  # ... and the next call fetches the bucket's

    # another process (a fresh store on the same cache folder) has no memory of the file: it re-hashes
    os.chmod(path, 0o644)
    path.write_bytes(bytes(forged))
    fresh = S3Store(store.config)
    try:
        with pytest.raises(IntegrityError, match="cached copy"):
            fresh.iter_verified(sha)  # refused before anything can be read
        assert fresh.read_bytes(sha) == data
        # a symlink planted in the cache is never followed
        target = tmp_path / "elsewhere.bin"
        target.write_bytes(bytes(forged))
        path.unlink()
        path.symlink_to(target)
        with pytest.raises(IntegrityError):
            fresh.path_for(sha)
        assert not path.is_symlink() and target.read_bytes() == bytes(forged)
    finally:
        fresh.close()


def test_a_cached_copy_altered_mid_read_never_arrives_whole(make_s3_store):
    store = make_s3_store()
    data = random.Random(3).randbytes(3 * MIB)
    sha = store.put_bytes(data, _grant(store)).sha256
    chunks = store.iter_verified(sha, chunk_size=MIB)
    got = [next(chunks)]
    path = store._cache_path(sha)
    os.chmod(path, 0o644)
    with open(path, "r+b") as fh:
        fh.seek(2 * MIB + 10)
        fh.write(b"\0" * 10)
    with pytest.raises(IntegrityError):
        got.extend(chunks)
    assert sum(map(len, got)) < len(data)


def test_a_killed_upload_is_aborted_by_gc(make_s3_store, s3_raw):
    store = make_s3_store()
    key = store.prefix + "ab/" + "c" * 62
    s3_raw.create_multipart_upload(Bucket=store.bucket, Key=key)  # what a killed process leaves
    assert store.abort_stale_uploads(timedelta(hours=1)) == 0
    assert store.abort_stale_uploads(timedelta(seconds=-60)) == 1
    assert _uploads(store) == []


def test_reachability_and_credentials_are_explained(make_s3_store, s3_server):
    make_s3_store().check_reachable()
    with pytest.raises(WorkspaceError, match="refused the credentials"):
        make_s3_store(secret_key="not-the-secret").check_reachable()
    wrong = make_s3_store(secret_key="not-the-secret")
    with pytest.raises(WorkspaceError, match="refused the credentials"):
        wrong.put_bytes(b"x", _grant(wrong))
    with pytest.raises(WorkspaceError, match="does not exist|refused"):
        make_s3_store(bucket="no-such-bucket-here").check_reachable()
    with pytest.raises(BackendError, match="cannot use the object store"):
        make_s3_store(endpoint="http://127.0.0.1:9", connect_timeout=1.0).check_reachable()


def test_a_store_configured_in_soundstage_toml_round_trips(s3_server, tmp_path):
    table = {"backend": "s3", "endpoint": s3_server.endpoint, "bucket": "soundstage-tests", "region": s3_server.region,
             "access_key_env": "SS_TEST_KEY", "secret_key_env": "SS_TEST_SECRET", "part_size_mib": 5}
    env = {"SS_TEST_KEY": s3_server.access_key, "SS_TEST_SECRET": s3_server.secret_key}
    config = parse_store_config(table, root=tmp_path, production_id="prod1234", env=env)
    assert config.prefix == "prod1234/" and config.cache_dir == tmp_path / "cache" / "s3"
    assert s3_server.secret_key not in repr(config)
    store = guard.adopt_store(open_store(config))
    try:
        blob = store.put_stream(io.BytesIO(b"INT. STUDIO - NIGHT"), _grant(store))
        assert store.key_for(blob.sha256) == f"prod1234/{blob.sha256[:2]}/{blob.sha256[2:]}"
        assert store.read_bytes(blob.sha256) == b"INT. STUDIO - NIGHT"
        assert "s3://soundstage-tests/prod1234/" in store.location
    finally:
        store.close()


def test_export_streams_from_the_bucket_or_from_a_verified_cached_copy(make_s3_store, s3_raw, tmp_path):
    store = make_s3_store()
    data = random.Random(4).randbytes(2 * MIB)
    sha = store.put_bytes(data, _grant(store)).sha256
    out = tmp_path / "out"
    out.mkdir()
    assert store.export_to(sha, out / "a.bin").read_bytes() == data
    assert not store._cache_path(sha).exists()  # an export is not a render: no cache copy
    cached = store.path_for(sha)
    for folder in (store.cache_dir, cached.parent):
        assert oct(folder.stat().st_mode & 0o777) == oct(0o700)  # the cache is the owner's alone
    assert oct(cached.stat().st_mode & 0o777) == oct(0o444)
    s3_raw.delete_object(Bucket=store.bucket, Key=store.key_for(sha))  # from now on only the cache has it
    assert store.export_to(sha, out / "b.bin").read_bytes() == data
    with pytest.raises(NotFoundError, match="missing"):
        store.verify(sha)  # verify always asks the bucket
