"""The session's real S3 server (SeaweedFS, ``seaweedfs`` in tests/conftest.py) with a bucket for the
store's tests, and a ``content_store`` fixture that runs a test against both backends: the local folder and S3."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from soundstage.errors import IntegrityError
from soundstage.safeguards import guard
from soundstage.store.assets import AssetStore
from soundstage.store.s3 import MIN_PART_SIZE, S3Config, S3Store

BUCKET = "soundstage-tests"


@pytest.fixture(scope="session")
def s3_server(seaweedfs):
    """The session's SeaweedFS server (tests/conftest.py) with the store tests' bucket."""
    seaweedfs.create_bucket(BUCKET)
    return seaweedfs


@pytest.fixture
def s3_raw(s3_server):
    """A plain S3 client with the server's credentials: acts behind the store's back."""
    client = s3_server.client()
    yield client
    client.close()


def s3_config(server, tmp_path, **overrides) -> S3Config:
    """A fresh prefix per store, so tests never see each other's objects."""
    values = dict(bucket=BUCKET, cache_dir=tmp_path / "cache", access_key=server.access_key,
                  secret_key=server.secret_key, endpoint=server.endpoint, region=server.region,
                  prefix=f"t-{uuid.uuid4().hex[:12]}/", part_size=MIN_PART_SIZE)
    values.update(overrides)
    return S3Config(**values)


@pytest.fixture
def make_s3_store(s3_server, tmp_path):
    made = []

    def make(**overrides):
        store = guard.adopt_store(S3Store(s3_config(s3_server, tmp_path, **overrides)))
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture(params=["local", "s3"])
def content_store(request, tmp_path):
    """The same behaviour, asked of each backend (the S3 one with 5 MiB parts, so a few MiB already
    take the multipart path)."""
    if request.param == "local":
        (tmp_path / "assets").mkdir()
        yield guard.adopt_store(AssetStore(tmp_path / "assets"))
        return
    yield request.getfixturevalue("make_s3_store")()


def unreadable_the_second_time() -> Callable[[], set]:
    """A ledger for gc that names nothing, and cannot be read the second time gc reads it (after gc
    has moved what it will delete aside): gc must put everything back."""
    reads: list[int] = []

    def ledger() -> set:
        reads.append(1)
        if len(reads) == 2:
            raise IntegrityError("the ledger is unreadable")
        return set()

    return ledger
