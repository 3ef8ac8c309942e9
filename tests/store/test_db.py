from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
import pytest
from sqlalchemy import text

from soundstage.errors import WorkspaceError
from soundstage.services.workspace import open_workspace
from soundstage.store.db import head_revision, redact
from soundstage.store.models import Base


def test_migrations_match_the_models(workspace):
    with workspace.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations drifted: {diff}"
    assert workspace.db.current_revision() == head_revision()


def test_sqlite_uses_wal(sqlite_workspace):
    with sqlite_workspace.db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_database_from_a_newer_schema_is_refused(workspace):
    with workspace.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    workspace.close()
    with pytest.raises(WorkspaceError, match="does not know"):
        open_workspace(workspace.settings.root)  # the URL is kept in the workspace config


def test_redact_hides_passwords():
    assert redact("postgresql+psycopg://u:secret@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    assert "secret" not in redact("postgresql://u:secret@h/db")
