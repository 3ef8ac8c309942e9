import hashlib
import os

import pytest

from soundstage.errors import IntegrityError, RefusedError
from soundstage.safeguards import guard
from soundstage.store.assets import AssetStore, WriteGrant


def _store(root):
    return guard.adopt_store(AssetStore(root))


def test_write_without_the_guards_grant_is_refused(tmp_path):
    store = _store(tmp_path)
    other = _store(tmp_path / "other")
    with pytest.raises(RefusedError):
        store.put_bytes(b"deepfake", WriteGrant("forged"))  # not minted by the guard
    with pytest.raises(RefusedError):
        store.put_bytes(b"deepfake", object())  # type: ignore[arg-type]
    with pytest.raises(RefusedError):
        store.put_bytes(b"deepfake", guard._grant(other, "t"))  # another store's grant
    assert not any(p.is_file() for p in tmp_path.rglob("*")), "nothing may reach the store"


def test_the_write_capability_is_handed_over_once_and_grants_are_single_use(tmp_path):
    store = _store(tmp_path)
    with pytest.raises(RefusedError, match="already handed over"):
        store.hand_over_write_capability()  # the guard holds it; nobody else can get it
    with pytest.raises(RefusedError, match="does not hold"):
        guard._grant(AssetStore(tmp_path / "fresh"), "t")  # a store nobody handed to the guard
    grant = guard._grant(store, "t")
    store.put_bytes(b"one", grant)
    with pytest.raises(RefusedError, match="already used"):
        store.put_bytes(b"two", grant)


def test_content_addressed_atomic_and_never_overwritten(tmp_path):
    store = _store(tmp_path)
    data = b"INT. STUDIO - NIGHT\n"
    blob = store.put_bytes(data, guard._grant(store, "t"))
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert blob.path == tmp_path / blob.sha256[:2] / blob.sha256[2:]
    assert blob.created and blob.path.read_bytes() == data
    assert not os.access(blob.path, os.W_OK) or os.geteuid() == 0  # stored read-only
    assert oct(blob.path.stat().st_mode & 0o777) == oct(0o444)
    again = store.put_bytes(data, guard._grant(store, "t"))
    assert not again.created and again.path == blob.path
    assert list((tmp_path / "tmp").iterdir()) == []  # no temp files left behind
    store.verify(blob.sha256)


def test_altered_content_is_detected(tmp_path):
    store = _store(tmp_path)
    blob = store.put_bytes(b"original", guard._grant(store, "t"))
    os.chmod(blob.path, 0o644)
    blob.path.write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        store.verify(blob.sha256)


def test_failed_unit_of_work_removes_new_blobs(tmp_path):
    store = _store(tmp_path)
    kept = store.put_bytes(b"committed", guard._grant(store, "t"))
    store.commit_new()
    new = store.put_bytes(b"rolled back", guard._grant(store, "t"))
    store.forget_new()
    assert kept.path.exists() and not new.path.exists()


def test_export_is_hash_checked_never_overwrites_and_never_follows_a_symlink(tmp_path):
    from soundstage.errors import AlreadyExistsError

    store = _store(tmp_path / "store")
    blob = store.put_bytes(b"the take", guard._grant(store, "t"))
    out = tmp_path / "out"
    out.mkdir()
    assert store.export_to(blob.sha256, out / "take.txt").read_bytes() == b"the take"
    with pytest.raises(AlreadyExistsError, match="already exists"):
        store.export_to(blob.sha256, out / "take.txt")
    (out / "link.txt").symlink_to(tmp_path / "elsewhere.txt")  # dangling
    with pytest.raises(AlreadyExistsError, match="symlink"):
        store.export_to(blob.sha256, out / "link.txt")
    assert not (tmp_path / "elsewhere.txt").exists()
    os.chmod(blob.path, 0o644)
    blob.path.write_bytes(b"the fake")
    with pytest.raises(IntegrityError):
        store.export_to(blob.sha256, out / "fake.txt")
    with pytest.raises(IntegrityError):
        store.iter_verified(blob.sha256)  # refused before anything can be read
    assert sorted(p.name for p in out.iterdir()) == ["link.txt", "take.txt"]  # no temp file left
