"""Shared fixtures: workspaces on SQLite and, when a server is available, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("SOUNDSTAGE_TEST_POSTGRES_URL", "").strip()
REQUIRE_PG = os.environ.get("SOUNDSTAGE_REQUIRE_POSTGRES") == "1"
REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SCRIPT = REPO_ROOT / "src" / "soundstage" / "samples" / "the_last_take.fountain"


def _fresh_pg_database() -> tuple[str, callable]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SOUNDSTAGE_REQUIRE_POSTGRES=1 but SOUNDSTAGE_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server (set SOUNDSTAGE_TEST_POSTGRES_URL; make test starts one as root)")
    name = "ss_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    """None means the workspace's embedded SQLite; otherwise a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    url, drop = _fresh_pg_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def workspace(tmp_path, database_url):
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(tmp_path / "production", "The Last Take", database_url=database_url)
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def sqlite_workspace(tmp_path):
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(tmp_path / "production", "The Last Take")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def sample_script() -> Path:
    return SAMPLE_SCRIPT
