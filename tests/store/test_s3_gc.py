"""The bucket's content gc (``S3Store.collect_garbage``, DR010) against a real SeaweedFS server: only
objects no ledger row names, older than the grace by the server's clock, and never one a unit of work
is about to name - a unit that reuses content leases it, and gc moves what it deletes into the trash
before it reads the ledger and the leases again.

Object times are the server's and cannot be set, so each test reads the server's clock once its "old"
objects exist (``cutoff``) and runs gc an hour later than that (``now``): what was written before
the cutoff is old, what was written or leased after it is young."""

from __future__ import annotations

import hashlib
import random
import time
from datetime import timedelta

import pytest

from soundstage.errors import IntegrityError, NotFoundError
from soundstage.safeguards import guard
from soundstage.store.s3 import MIB

HOUR = timedelta(hours=1)


def _put(store, data: bytes):
    with store.unit():
        blob = store.put_bytes(data, guard._grant(store, "t"))
        store.commit_new()
    return blob


def _keys(store, s3_raw, under: str = "") -> set[str]:
    page = s3_raw.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix + under)
    return {item["Key"][len(store.prefix):] for item in page.get("Contents", [])}


def _three(store):
    """A named object and an unnamed old one, then (after the cutoff) an unnamed young one."""
    named, old = _put(store, b"the take the ledger names"), _put(store, b"a failed unit's, two days ago")
    time.sleep(1.1)   # object times have whole seconds
    cutoff = store.server_time()
    young = _put(store, b"a unit still running")
    return named, old, young, cutoff + HOUR


def test_gc_lists_unnamed_old_objects_and_removes_them_only_when_asked(make_s3_store, s3_raw):
    store = make_s3_store()
    named, old, young, now = _three(store)
    names = {named.sha256}
    listed = store.collect_garbage(lambda: names, older_than=HOUR, now=now)
    assert [u.sha256 for u in listed] == [old.sha256] and listed[0].size == old.size
    assert listed[0].path == f"s3://{store.bucket}/{store.key_for(old.sha256)}"
    assert 3600 <= listed[0].age_seconds < 3600 + 60
    assert all(store.exists(b.sha256) for b in (named, old, young))   # list-only removes nothing
    store.path_for(old.sha256)                                          # a cached copy on this host
    removed = store.collect_garbage(lambda: names, older_than=HOUR, now=now, delete=True)
    assert [u.sha256 for u in removed] == [old.sha256]
    assert not store.exists(old.sha256) and not store._cache_path(old.sha256).exists()
    with pytest.raises(NotFoundError):
        store.read_bytes(old.sha256)
    store.verify(named.sha256)
    store.verify(young.sha256)                                          # young: not yet
    assert _keys(store, s3_raw, "trash/") == set()
    assert store.collect_garbage(lambda: names, older_than=HOUR, now=now, delete=True) == []
    # by the server's own clock nothing here is a day old
    assert store.collect_garbage(lambda: names, delete=True) == []
    with pytest.raises(ValueError, match="at least"):
        store.collect_garbage(lambda: names, older_than=timedelta(minutes=5))


def test_content_a_unit_reuses_is_leased_and_gc_keeps_it(make_s3_store, s3_raw):
    store = make_s3_store()
    named, old, young, now = _three(store)
    again = _put(store, b"a failed unit's, two days ago")   # a unit finds the old object to name it
    assert not again.created and f"leases/{old.sha256}" in _keys(store, s3_raw, "leases/")
    assert store.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=now, delete=True) == []
    store.verify(old.sha256)
    # new content takes no lease (it is young itself); an hour after the lease, the lease is stale
    assert _keys(store, s3_raw, "leases/") == {f"leases/{old.sha256}"}
    later = now + 2 * HOUR
    assert {u.sha256 for u in store.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=later,
                                                    delete=True)} == {old.sha256, young.sha256}
    assert _keys(store, s3_raw, "leases/") == set()   # stale leases go with it


def test_a_unit_that_finds_the_object_just_before_gc_moves_it_keeps_it(make_s3_store, s3_raw):
    """The race the lease closes: a unit finds the old object after gc listed it, right before gc
    copies it aside and deletes it; gc reads the leases again after the move and puts it back."""
    store = make_s3_store()
    named, old, _young, now = _three(store)
    real_copy, found = store._copy, []

    def copy(source, target, size):
        if source == store.key_for(old.sha256) and not found:
            found.append(_put(store, b"a failed unit's, two days ago"))
        return real_copy(source, target, size)

    store._copy = copy
    assert store.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=now, delete=True) == []
    assert len(found) == 1 and not found[0].created
    store.verify(old.sha256)
    assert _keys(store, s3_raw, "trash/") == set()


def test_a_unit_that_stores_the_content_anew_while_it_is_aside_keeps_it(make_s3_store, s3_raw):
    """gc has moved the object aside: a unit looking for it finds nothing, stores it anew and names
    it; gc's second reading of the ledger sees the name and puts the copy back (the same bytes)."""
    store = make_s3_store()
    named, old, _young, now = _three(store)
    rows, reads = {named.sha256}, []

    def ledger() -> set:
        reads.append(1)
        if len(reads) == 2:
            blob = _put(store, b"a failed unit's, two days ago")
            assert blob.created   # the name was empty: stored anew
            rows.add(blob.sha256)
        return set(rows)

    assert store.collect_garbage(ledger, older_than=HOUR, now=now, delete=True) == []
    assert len(reads) == 2
    store.verify(old.sha256)
    assert _keys(store, s3_raw, "trash/") == set()


def test_a_ledger_that_cannot_be_read_again_puts_everything_back(make_s3_store, s3_raw):
    store = make_s3_store()
    _named, old, _young, now = _three(store)
    reads = []

    def ledger() -> set:
        reads.append(1)
        if len(reads) == 2:
            raise IntegrityError("the ledger is unreadable")
        return set()

    with pytest.raises(IntegrityError):
        store.collect_garbage(ledger, older_than=HOUR, now=now, delete=True)
    store.verify(old.sha256)
    assert _keys(store, s3_raw, "trash/") == set()


def test_a_gc_killed_half_way_is_settled_by_the_next(make_s3_store, s3_raw):
    """Objects a killed gc left in the trash: named ones go back, unnamed ones are removed; a listing
    alone touches neither."""
    store = make_s3_store()
    named, old, _young, now = _three(store)
    for blob, tag in ((named, "0000beef"), (old, "0000cafe")):
        key = store.key_for(blob.sha256)
        s3_raw.copy_object(Bucket=store.bucket, Key=f"{store.prefix}trash/{blob.sha256}.{tag}",
                           CopySource={"Bucket": store.bucket, "Key": key})
        s3_raw.delete_object(Bucket=store.bucket, Key=key)
    assert store.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=now) == []
    assert not store.exists(named.sha256)
    removed = store.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=now, delete=True)
    assert [u.sha256 for u in removed] == [old.sha256]
    store.verify(named.sha256)
    assert not store.exists(old.sha256) and _keys(store, s3_raw, "trash/") == set()


def test_only_content_keys_are_collected(make_s3_store, s3_raw):
    """Work areas, leases, the trash and stray keys beside the content are never content."""
    store = make_s3_store()
    named, old, _young, now = _three(store)
    stray = {"work/job-1/seg-0001.mp4", "notes.txt", f"{old.sha256[:2]}/short", "leases/not-a-sha"}
    for key in stray:
        s3_raw.put_object(Bucket=store.bucket, Key=store.prefix + key, Body=b"x")
    removed = store.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=now, delete=True)
    assert [u.sha256 for u in removed] == [old.sha256]
    assert stray <= _keys(store, s3_raw)


@pytest.mark.slow
def test_an_object_over_the_single_copy_limit_moves_in_parts_and_comes_back_whole(make_s3_store, s3_raw):
    """Past S3's 5 GiB single copy, gc copies in parts (here the limit is lowered to 6 MiB, the
    parts are the store's 5 MiB): the object put back hashes to its name."""
    store = make_s3_store()
    store._copy_limit = 6 * MIB
    data = random.Random(7).randbytes(13 * MIB + 5)
    named, big = _put(store, b"named"), _put(store, data)
    time.sleep(1.1)
    now = store.server_time() + HOUR
    rows, reads = {named.sha256}, []

    def ledger() -> set:
        reads.append(1)
        if len(reads) == 2:
            rows.add(big.sha256)   # named meanwhile: it goes back
        return set(rows)

    assert store.collect_garbage(ledger, older_than=HOUR, now=now, delete=True) == []
    store.verify(big.sha256)
    assert hashlib.sha256(store.read_bytes(big.sha256)).hexdigest() == big.sha256
    head = s3_raw.head_object(Bucket=store.bucket, Key=store.key_for(big.sha256), PartNumber=1)
    assert head.get("PartsCount") == 3   # put back by a copy in three parts
    time.sleep(1.1)   # the copy put back is new: old only after a later cutoff
    now = store.server_time() + HOUR
    removed = store.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=now, delete=True)
    assert [u.sha256 for u in removed] == [big.sha256] and not store.exists(big.sha256)
    assert _keys(store, s3_raw, "trash/") == set()


def test_a_unit_whose_find_a_whole_gc_overtakes_stores_the_content_anew(make_s3_store):
    """Another host's unit sees the old object, then a whole gc runs (move, second reading, delete)
    before the unit's lease lands: the unit looks again after leasing, finds nothing and stores the
    bytes anew, so the row it commits names content that is there."""
    gc_host = make_s3_store()
    named, old, _young, now = _three(gc_host)
    unit_host = make_s3_store(prefix=gc_host.prefix)
    real_lease, removed = unit_host._lease, []

    def lease(sha256):
        if sha256 == old.sha256 and not removed:
            removed.extend(gc_host.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=now, delete=True))
        return real_lease(sha256)

    unit_host._lease = lease
    blob = _put(unit_host, b"a failed unit's, two days ago")
    assert [u.sha256 for u in removed] == [old.sha256]   # gc did remove what the unit had seen ...
    assert blob.created                                  # ... so the unit stored it again
    gc_host.verify(old.sha256)
