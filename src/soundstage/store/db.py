"""Database access: one engine per workspace, Alembic migrations, one transaction per command.

SQLite (WAL, foreign keys on) is the embedded default; PostgreSQL works through the same
models when ``SOUNDSTAGE_DATABASE_URL`` points at it.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, TextClause, create_engine, event, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from soundstage.errors import InternalError, WorkspaceError

#: how long a SQLite writer waits for the write lock before "database is locked" (the workspace's
#: unit of work answers BusyError then: HTTP 503 with Retry-After)
BUSY_SECONDS = 30

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A server runs up to ~40 threadpool threads per worker: with the default pool (5 + 10
        # overflow) every request past the fifth opened and closed its own connection, paying
        # connect + pragmas each time. Keep that many connections instead (SQLite ones are cheap).
        engine = create_engine(url, connect_args={"timeout": BUSY_SECONDS}, pool_size=20, max_overflow=30)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """The ledger database of one workspace."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise WorkspaceError(f"cannot open database {redact(url)}: {exc}") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise WorkspaceError(f"cannot open database {redact(self.url)}: {_first_line(exc)}") from exc

    def upgrade(self) -> None:
        """Bring the schema to this soundstage's head; refuse a database from a newer version."""
        self.check_not_newer()
        cfg = _alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def check_not_newer(self) -> None:
        current = self.current_revision()
        if current is None:
            return
        script = ScriptDirectory.from_config(_alembic_config())
        known = {rev.revision for rev in script.walk_revisions()}
        if current not in known:
            raise WorkspaceError(
                f"the ledger database is at schema revision {current!r}, which this soundstage "
                f"(schema {head_revision()!r}) does not know",
                hint="it was written by a newer soundstage; upgrade soundstage to open it",
            )

    def check_current(self) -> None:
        """Opening an existing workspace: the schema must be exactly ours."""
        self.check_not_newer()
        current = self.current_revision()
        if current != head_revision():
            if current is None and not inspect(self.engine).get_table_names():
                raise WorkspaceError("the ledger database is empty", hint="run soundstage init first")
            raise WorkspaceError(
                f"the ledger database is at schema revision {current!r}, expected {head_revision()!r}",
                hint="run: soundstage migrate",
            )

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """One unit of work: committed whole or rolled back whole. ``read_only``: any write in it -
        a flush with changes, an ORM insert, update or delete - raises InternalError (``_reading``)."""
        session = self._sessions()
        if read_only:
            session.info[READ_ONLY] = True
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def redact(url: str) -> str:
    """Hide a password in a database URL before it reaches a message."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
    return text.strip().splitlines()[0]


#: ``Session.info`` key of a read-only transaction (``Database.transaction(read_only=True)``)
READ_ONLY = "soundstage.read_only"


def _refused(what: str) -> InternalError:
    return InternalError(f"a read-only transaction tried to {what}",
                         hint="a read path that writes must use the workspace's unit_of_work")


@event.listens_for(Session, "before_flush")
def _reading_flush(session: Session, _context, _instances) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise _refused("write rows")


_WRITING_SQL = ("insert", "update", "delete", "replace", "create", "drop", "alter", "truncate")


@event.listens_for(Session, "do_orm_execute")
def _reading_execute(state) -> None:
    if not state.session.info.get(READ_ONLY):
        return
    if state.is_insert or state.is_update or state.is_delete:
        raise _refused("run " + ("an insert" if state.is_insert else "an update" if state.is_update else "a delete"))
    if isinstance(state.statement, TextClause):  # raw SQL: refused unless it plainly reads
        words = state.statement.text.split(None, 1)
        if words and words[0].lower() in _WRITING_SQL:
            raise _refused(f"run raw SQL ({words[0].upper()} ...)")


def is_busy(exc: BaseException) -> bool:
    """Whether a database error is SQLite's "database is locked": a writer waited its busy timeout
    for the write lock another transaction holds (nothing else changed)."""
    text = str(getattr(exc, "orig", exc))
    return isinstance(exc, OperationalError) and ("database is locked" in text or "database table is locked" in text)
