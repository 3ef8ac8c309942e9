"""The store as render nodes reach it (store.remote): an address with no credential in it, inputs
fetched by hash and verified, the job's work area in the bucket; the adversary's cases too."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from soundstage.errors import BackendError, IntegrityError, NotFoundError, WorkspaceError
from soundstage.store.remote import LocalFolderStore, S3NodeStore, node_address
from tests.store.conftest import BUCKET


@pytest.fixture
def node_env(s3_server, monkeypatch, tmp_path):
    monkeypatch.setenv("NODE_S3_KEY", s3_server.access_key)
    monkeypatch.setenv("NODE_S3_SECRET", s3_server.secret_key)
    monkeypatch.setenv("SOUNDSTAGE_NODE_DIR", str(tmp_path / "node"))


def _address(store) -> S3NodeStore:
    from dataclasses import replace

    return replace(node_address(store, store.cache_dir), access_key_env="NODE_S3_KEY", secret_key_env="NODE_S3_SECRET")


def test_a_node_fetches_by_hash_and_publishes_to_the_work_area(make_s3_store, s3_server, s3_raw, node_env, tmp_path):
    store = make_s3_store()
    body = b"plate bytes " * 1000
    sha = hashlib.sha256(body).hexdigest()
    s3_raw.put_object(Bucket=BUCKET, Key=store.key_for(sha), Body=body)  # as the guard's write left it
    address = _address(store)
    wire = pickle.dumps(address)
    assert s3_server.secret_key.encode() not in wire and s3_server.access_key.encode() not in wire
    node = pickle.loads(wire)
    assert node.fetch(sha).read_bytes() == body
    node.check()

    segment = node.node_work_dir("job-abc") / "chunk_00000.mp4"
    segment.write_bytes(b"segment")
    node.put_work("job-abc", segment)
    assert node.get_work("job-abc", "chunk_00000.mp4", tmp_path / "pulled") and \
        (tmp_path / "pulled").read_bytes() == b"segment"
    assert not node.get_work("job-abc", "chunk_00001.json", tmp_path / "none")
    for bad in ("../x", "job-abc/../../y", "plates"):
        with pytest.raises(BackendError):
            node.put_work(bad, segment)
    with pytest.raises(BackendError):
        node.get_work("job-abc", "../../" + sha[2:], tmp_path / "x")
    node.clear_work("job-abc")
    assert not node.get_work("job-abc", "chunk_00000.mp4", tmp_path / "gone")
    assert s3_raw.head_object(Bucket=BUCKET, Key=store.key_for(sha))  # content is never touched


def test_a_replaced_object_or_a_forged_cache_copy_is_refused(make_s3_store, s3_raw, node_env, tmp_path):
    store = make_s3_store()
    body = b"the real plate" * 500
    sha = hashlib.sha256(body).hexdigest()
    s3_raw.put_object(Bucket=BUCKET, Key=store.key_for(sha), Body=b"a forged plate")
    node = _address(store)
    with pytest.raises(IntegrityError):
        node.fetch(sha)
    s3_raw.put_object(Bucket=BUCKET, Key=store.key_for(sha), Body=body)
    path = node.fetch(sha)
    path.chmod(0o600)
    path.write_bytes(b"poisoned")  # someone on the node edits the cached copy
    with pytest.raises(IntegrityError):
        pickle.loads(pickle.dumps(node)).fetch(sha)
    with pytest.raises(NotFoundError):
        node.fetch("not-a-hash")


def test_a_node_without_credentials_or_with_wrong_ones_says_so(make_s3_store, s3_server, monkeypatch, tmp_path):
    store = make_s3_store()
    node = _address(store)
    monkeypatch.setenv("SOUNDSTAGE_NODE_DIR", str(tmp_path / "node"))
    monkeypatch.delenv("NODE_S3_KEY", raising=False)
    with pytest.raises(WorkspaceError, match="NODE_S3_KEY is empty"):
        node.check()
    monkeypatch.setenv("NODE_S3_KEY", s3_server.access_key)
    monkeypatch.setenv("NODE_S3_SECRET", "wrong")
    with pytest.raises(WorkspaceError, match="refused the credentials"):
        node.check()


def test_the_folder_store_verifies_what_it_hands_out(tmp_path):
    from soundstage.store.assets import AssetStore

    store = AssetStore(tmp_path / "assets")
    (tmp_path / "assets").mkdir()
    blob = store.put_bytes(b"reference face", store.hand_over_write_capability().grant("t"))
    node = node_address(store, tmp_path / "work")
    assert isinstance(node, LocalFolderStore) and node.fetch(blob.sha256).read_bytes() == b"reference face"
    path = store.path_for(blob.sha256)
    path.chmod(0o644)
    path.write_bytes(b"someone else's face")
    with pytest.raises(IntegrityError):
        node.fetch(blob.sha256)
    with pytest.raises(WorkspaceError, match="not on this machine"):
        LocalFolderStore(str(tmp_path / "nowhere"), str(tmp_path)).check()


# ---------------------------------------------------------------- the render node's bounded cache

KIB = 1024


def _objects(store, s3_raw, count: int, size: int) -> list[str]:
    shas = []
    for i in range(count):
        body = bytes([i]) * size
        sha = hashlib.sha256(body).hexdigest()
        s3_raw.put_object(Bucket=BUCKET, Key=store.key_for(sha), Body=body)
        shas.append(sha)
    return shas


def _cached(node) -> set[str]:
    root = node._store().cache_dir
    return {p.parent.name + p.name for p in root.glob("??/*") if p.is_file()}


def test_the_node_cache_evicts_least_recently_used_copies_down_to_its_cap(make_s3_store, s3_raw, node_env,
                                                                          monkeypatch):
    import time

    store = make_s3_store()
    monkeypatch.setenv("SOUNDSTAGE_NODE_CACHE_MB", "1")
    a, b, c = _objects(store, s3_raw, 3, 400 * KIB)
    node = _address(store)
    node.node_work_dir("job-one")  # task 1 uses a and b
    node.fetch(a)
    time.sleep(0.02)
    node.fetch(b)
    time.sleep(0.02)
    node.node_work_dir("job-one")  # task 2 uses a again, then c: b is the least recently used
    node.fetch(a)
    time.sleep(0.02)
    path_c = node.fetch(c)
    assert _cached(node) == {a, c}
    assert path_c.read_bytes() == bytes([2]) * 400 * KIB
    node.node_work_dir("job-one")  # an evicted copy is fetched (and verified) again when needed
    assert node.fetch(b).read_bytes() == bytes([1]) * 400 * KIB
    assert b in _cached(node) and sum(p.stat().st_size for p in node._store().cache_dir.glob("??/*")) <= 1024 * KIB


def test_a_copy_a_task_uses_is_never_evicted(make_s3_store, s3_raw, node_env, monkeypatch):
    import fcntl
    import os

    from soundstage.store.remote import prune_node_cache, release_inputs

    store = make_s3_store()
    monkeypatch.setenv("SOUNDSTAGE_NODE_CACHE_MB", "1")
    shas = _objects(store, s3_raw, 4, 400 * KIB)
    node = _address(store)
    node.node_work_dir("job-one")
    paths = [node.fetch(sha) for sha in shas[:3]]  # one task's inputs: 1.2 MiB > the cap, all in use
    assert _cached(node) == set(shas[:3]) and all(p.is_file() for p in paths)
    release_inputs()
    # another task on this node (another process: its own lock) holds the oldest copy
    fd = os.open(paths[0], os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        evicted = prune_node_cache(node._store().cache_dir, 0)
        assert set(evicted) == set(shas[1:3]) and _cached(node) == {shas[0]}
    finally:
        os.close(fd)
    assert prune_node_cache(node._store().cache_dir, 0) == [shas[0]]
    assert not (node._store().cache_dir / "used" / shas[0]).exists()


def test_a_bad_cache_cap_is_one_line(make_s3_store, s3_raw, node_env, monkeypatch):
    store = make_s3_store()
    (sha,) = _objects(store, s3_raw, 1, KIB)
    for bad in ("lots", "0", "-5", "1e9", str(10**9)):
        monkeypatch.setenv("SOUNDSTAGE_NODE_CACHE_MB", bad)
        with pytest.raises(WorkspaceError, match="SOUNDSTAGE_NODE_CACHE_MB"):
            _address(store).fetch(sha)
