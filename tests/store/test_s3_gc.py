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
from tests.store.conftest import unreadable_the_second_time

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
    leases = _keys(store, s3_raw, "leases/")
    assert not again.created and len(leases) == 1 and next(iter(leases)).startswith(f"leases/{old.sha256}.")
    assert store.collect_garbage(lambda: {named.sha256}, older_than=HOUR, now=now, delete=True) == []
    store.verify(old.sha256)
    # new content takes no lease (it is young itself); an hour after the lease, the lease is stale
    assert _keys(store, s3_raw, "leases/") == leases
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
    with pytest.raises(IntegrityError):
        store.collect_garbage(unreadable_the_second_time(), older_than=HOUR, now=now, delete=True)
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


def test_a_lease_taken_while_gc_runs_is_not_deleted_with_the_stale_ones(make_s3_store, s3_raw):
    """gc deletes the stale leases it listed. A unit on another host that leases the same content
    after that listing keeps its own lease (every lease is a key of its own), so the next gc, while
    the unit still runs, keeps the content. (Found by a red-team run: with one key a content, the
    fresh lease went with the stale one and the next gc removed the object.)"""
    gc_host = make_s3_store()
    unit_host = make_s3_store(prefix=gc_host.prefix)
    data = b"content reused by a long unit"
    sha = hashlib.sha256(data).hexdigest()
    gc_host._lease(sha)                 # an old lease: a unit that reused this content long ago
    time.sleep(1.1)
    cutoff1 = gc_host.server_time()
    _put(gc_host, data)                 # the object itself is stored after that: young for the first gc
    time.sleep(1.1)
    real_leases, calls, cutoff2 = gc_host._leases, [], []

    def leases():
        listed = real_leases()
        calls.append(1)
        if len(calls) == 2:             # right after the first gc's second reading of the leases ...
            cutoff2.append(gc_host.server_time())
            time.sleep(1.1)
            assert not _put(unit_host, data).created   # ... another host's unit finds the object, leases it
        return listed

    gc_host._leases = leases
    gc_host.collect_garbage(lambda: set(), older_than=HOUR, now=cutoff1 + HOUR, delete=True)
    gc_host._leases = real_leases
    assert len(_keys(gc_host, s3_raw, "leases/")) == 1    # the stale lease went, the fresh one stayed
    removed = gc_host.collect_garbage(lambda: set(), older_than=HOUR, now=cutoff2[0] + HOUR, delete=True)
    assert removed == [] and gc_host.exists(sha)


def test_two_gcs_at_once_settle_each_others_trash_without_losing_named_content(make_s3_store, s3_raw):
    """Host A's gc moves X, then Y aside; host B's gc runs between the two moves and settles A's
    trashed X as a killed gc's leftover (X is unnamed then: deleted). Meanwhile a unit that had found
    Y (leased it) names it, and another stores X anew and names it. A's second reading sees both
    named: X's copy in the trash is gone (B's), which is no error, and Y goes back. (Red-team run:
    A stopped at X with NotFoundError and left Y, named, in the trash.)"""
    gc_a = make_s3_store()
    gc_b, unit = make_s3_store(prefix=gc_a.prefix), make_s3_store(prefix=gc_a.prefix)
    x_data, y_data = sorted([b"x-content", b"y-content"], key=lambda d: hashlib.sha256(d).hexdigest())
    x, y = _put(gc_a, x_data), _put(gc_a, y_data)   # X is listed (and moved) first
    time.sleep(1.1)
    now = gc_a.server_time() + HOUR
    rows: set = set()
    real_copy = gc_a._copy

    def copy(source, target, size):
        if source == gc_a.key_for(y.sha256) and "trash/" in target:
            assert not _put(unit, y_data).created       # a unit finds Y (leases it) just before A moves it
            gc_b.collect_garbage(lambda: set(rows), older_than=HOUR, now=now, delete=True)  # B: X unnamed
        return real_copy(source, target, size)

    reads = []

    def ledger() -> set:
        reads.append(1)
        if len(reads) == 2:
            assert _put(unit, x_data).created           # X stored anew by a unit ...
            rows.update({x.sha256, y.sha256})            # ... and both units commit their rows
        return set(rows)

    gc_a._copy = copy
    assert gc_a.collect_garbage(ledger, older_than=HOUR, now=now, delete=True) == []
    gc_a.verify(x.sha256)
    gc_a.verify(y.sha256)
    assert _keys(gc_a, s3_raw, "trash/") == set()


@pytest.mark.slow
def test_gc_sees_every_object_and_lease_past_one_page(make_s3_store, s3_raw):
    """Listings are read page by page (1,000 keys a page)."""
    from concurrent.futures import ThreadPoolExecutor

    store = make_s3_store()
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1003)]

    def put(i):
        s3_raw.put_object(Bucket=store.bucket, Key=store.key_for(shas[i]), Body=str(i).encode())
        s3_raw.put_object(Bucket=store.bucket, Key=f"{store.prefix}leases/{shas[i]}.00000000", Body=b"")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, range(1003)))
    time.sleep(1.1)
    now = store.server_time() + HOUR
    assert len(store.collect_garbage(lambda: set(), older_than=HOUR, now=now)) == 1003
    assert len(store.collect_garbage(lambda: set(), older_than=HOUR, now=now, delete=True)) == 1003
    assert _keys(store, s3_raw) == set()


def test_a_put_that_loses_the_upload_race_leases_what_it_reuses(make_s3_store, monkeypatch):
    """A unit whose conditional PUT finds the object created meanwhile (HTTP 412) reuses it: it leases
    it as a unit that found it by HEAD does (it returned without a lease before), so a failed job that
    created it does not take it back (``discard_created`` keeps leased objects)."""
    store = make_s3_store()
    data = b"two uploads of the same output at once"
    with store.unit():
        first = store.put_bytes(data, guard._grant(store, "t"))
        store.forget_new()
    real_existing = store._existing
    looks: list = []

    def existing(sha256, size):
        looks.append(sha256)
        return None if len(looks) == 1 else real_existing(sha256, size)  # the first look came before the upload

    monkeypatch.setattr(store, "_existing", existing)
    again = _put(store, data)
    monkeypatch.undo()
    assert first.created and not again.created and len(looks) == 2
    assert first.sha256 in store._leases()
    assert store.discard_created([first], set) == []
    store.verify(first.sha256)


def test_an_object_a_multipart_upload_created_stays_for_gc(make_s3_store):
    """Racing multipart uploads of the same content may both complete (SeaweedFS, DR010): neither can
    vouch it alone created the object, so a failed job's multipart output is left for gc."""
    store = make_s3_store()
    data = random.Random(7).randbytes(store.config.part_size + 1)
    with store.unit():
        blob = store.put_bytes(data, guard._grant(store, "t"))
        store.forget_new()
    assert blob.created and blob.birth is None
    assert store.discard_created([blob], set) == []
    assert store.exists(blob.sha256) and store.left_for_gc == [blob.sha256]
