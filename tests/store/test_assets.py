import hashlib
import os
import time
from datetime import timedelta

import pytest

from soundstage.errors import IntegrityError, RefusedError
from soundstage.safeguards import guard
from soundstage.store.assets import AssetStore, WriteGrant
from tests.store.conftest import unreadable_the_second_time


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


def _aged(path, hours: float) -> None:
    """As if ``path`` was last written ``hours`` ago."""
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def _three(store):
    """A named old file, an unnamed old one (a unit failed two days ago) and an unnamed young one."""
    named = store.put_bytes(b"named by a row", guard._grant(store, "t"))
    store.commit_new()
    old = store.put_bytes(b"a failed unit's, two days ago", guard._grant(store, "t"))
    young = store.put_bytes(b"a failed unit's, just now", guard._grant(store, "t"))
    store.forget_new()
    _aged(named.path, 48)
    _aged(old.path, 48)
    return named, old, young


def test_a_failed_unit_leaves_its_content_for_gc(tmp_path):
    store = _store(tmp_path)
    kept = store.put_bytes(b"committed", guard._grant(store, "t"))
    store.commit_new()
    new = store.put_bytes(b"rolled back", guard._grant(store, "t"))
    store.forget_new()
    assert kept.path.exists() and new.path.exists() and store.left_for_gc == [new.sha256]


def test_gc_lists_only_unnamed_content_past_the_grace_and_removes_it_only_when_asked(tmp_path):
    store = _store(tmp_path)
    named, old, young = _three(store)
    names = {named.sha256}
    listed = store.collect_garbage(lambda: names)
    assert [u.sha256 for u in listed] == [old.sha256] and listed[0].size == old.size
    assert 47 * 3600 < listed[0].age_seconds < 49 * 3600
    assert named.path.exists() and old.path.exists() and young.path.exists()  # list-only removes nothing
    removed = store.collect_garbage(lambda: names, delete=True)
    assert [u.sha256 for u in removed] == [old.sha256]
    assert not old.path.exists() and not store.exists(old.sha256)
    assert named.path.exists() and young.path.exists()  # named: never; young: not yet
    store.verify(named.sha256)
    assert store.collect_garbage(lambda: names, delete=True) == []
    # the grace is the caller's to choose, not below an hour: the young one goes once past it
    _aged(young.path, 2)
    assert [u.sha256 for u in store.collect_garbage(lambda: names, older_than=timedelta(hours=1), delete=True)] \
        == [young.sha256]
    with pytest.raises(ValueError, match="at least"):
        store.collect_garbage(lambda: names, older_than=timedelta(minutes=5))
    assert [sha for sha, _ in store.iter_stored()] == [named.sha256]


def test_content_reused_by_a_unit_is_young_again_and_gc_keeps_it(tmp_path):
    """Storing content that is already stored touches it: a unit that found an old unnamed file
    (and will name it when it commits) keeps gc's hands off it."""
    store = _store(tmp_path)
    named, old, _young = _three(store)
    again = store.put_bytes(b"a failed unit's, two days ago", guard._grant(store, "t"))
    assert not again.created and time.time() - os.stat(old.path).st_mtime < 60
    assert store.collect_garbage(lambda: {named.sha256}, delete=True) == []
    store.verify(old.sha256)


def test_a_unit_that_reuses_content_while_gc_removes_it_keeps_it(tmp_path):
    """gc moves the file out of its name, then reads the ledger again: a unit that named it in
    between (it found the name empty, so stored the content anew) keeps it; so does a unit that
    found the file before the move (it touched it)."""
    store = _store(tmp_path)
    named, old, _young = _three(store)
    rows = {named.sha256}
    reads = []

    def ledger() -> set:
        reads.append(1)
        if len(reads) == 2:  # gc has moved the old file aside: a unit stores the same content, commits
            with store.unit():
                blob = store.put_bytes(b"a failed unit's, two days ago", guard._grant(store, "t"))
                store.commit_new()
            assert blob.created  # the name was free: stored anew
            rows.add(blob.sha256)
        return set(rows)

    assert store.collect_garbage(ledger, delete=True) == []
    assert len(reads) == 2
    store.verify(old.sha256)
    assert list((tmp_path / "trash").iterdir()) == []


def test_a_gc_killed_half_way_is_settled_by_the_next(tmp_path):
    """Files a killed gc left moved aside: named ones go back, unnamed ones are removed."""
    store = _store(tmp_path)
    named, old, _young = _three(store)
    trash = tmp_path / "trash"
    trash.mkdir()
    os.rename(named.path, trash / f"{named.sha256}.0000beef")
    os.rename(old.path, trash / f"{old.sha256}.0000cafe")
    assert [u.sha256 for u in store.collect_garbage(lambda: {named.sha256})] == []  # list-only touches nothing
    assert not named.path.exists()
    removed = store.collect_garbage(lambda: {named.sha256}, delete=True)
    assert [u.sha256 for u in removed] == [old.sha256]
    store.verify(named.sha256)
    assert not old.path.exists() and list(trash.iterdir()) == []


def test_a_ledger_that_cannot_be_read_again_puts_everything_back(tmp_path):
    store = _store(tmp_path)
    _named, old, _young = _three(store)
    with pytest.raises(IntegrityError):
        store.collect_garbage(unreadable_the_second_time(), delete=True)
    store.verify(old.sha256)
    assert list((tmp_path / "trash").iterdir()) == []


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


def test_a_unit_that_finds_content_just_before_gc_moves_it_keeps_it(tmp_path, monkeypatch):
    """A unit finds the old unnamed file (and touches it) after gc listed it, just before gc moves
    it aside: gc sees it young once moved, and puts it back."""
    store = _store(tmp_path)
    named, old, _young = _three(store)
    real_rename = os.rename
    found = []

    def rename(src, dst, *args, **kwargs):
        if os.fspath(src) == os.fspath(old.path) and not found:
            found.append(store.put_bytes(b"a failed unit's, two days ago", guard._grant(store, "t")))
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    assert store.collect_garbage(lambda: {named.sha256}, delete=True) == []
    assert len(found) == 1 and not found[0].created
    store.verify(old.sha256)
    assert list((tmp_path / "trash").iterdir()) == []


def test_the_record_of_blobs_left_for_gc_is_bounded(monkeypatch):
    """A long-running server's failed units must not grow the store's record without end: the last
    LEFT_FOR_GC_KEPT are kept, oldest first (gc itself scans the store)."""
    from soundstage.store import blobs

    monkeypatch.setattr(blobs, "LEFT_FOR_GC_KEPT", 3)
    new = blobs.NewBlobs()
    for k in range(5):
        with new.unit():
            new.add(f"sha{k}")
            new.leave_for_gc()
    assert new.left_for_gc == ["sha2", "sha3", "sha4"]


def test_a_touch_in_the_same_clock_tick_as_the_write_still_keeps_the_content(tmp_path):
    """Many file systems stamp a write and a touch with a coarse clock (a kernel tick): a unit that
    reuses new content within the tick of its write would leave the mtime as it was, and
    discard_created would take content that unit is about to name. A new file is born with an mtime
    no touch can give (a whole second, two seconds back), so any touch shows. Where this machine's
    file system stamps finely the loop alone would pass without that; the birth mtime is checked
    directly."""
    store = _store(tmp_path)
    for attempt in range(20):
        blob = store.put_bytes(f"new content, reused at once ({attempt})".encode(), guard._grant(store, "t"))
        os.utime(blob.path)  # what _reuse does, microseconds after the write
        assert store.discard_created([blob], set) == []
        store.verify(blob.sha256)
    fresh = store.put_bytes(b"new content nobody reused", guard._grant(store, "t"))
    assert os.stat(fresh.path).st_mtime_ns % 1_000_000_000 == 0 and time.time() - os.stat(fresh.path).st_mtime >= 2
    assert store.discard_created([fresh], set) == [fresh.sha256]
