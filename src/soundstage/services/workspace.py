"""Workspace use cases: create, open, and run one unit of work against a production."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import tomli_w
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from soundstage.errors import AlreadyExistsError, BusyError, InputError, InternalError, WorkspaceError
from soundstage.safeguards import audit, guard, keys
from soundstage.safeguards.keys import RecordedKeys, create_production_ca
from soundstage.safeguards.ledger_state import recorded_signing_keys
from soundstage.safeguards.signatures import key_id_for
from soundstage.safeguards.watermark import KEY_FILE, create_key, default_engine, read_key
from soundstage.services.keys_service import record_signing_keys
from soundstage.services.models import register_builtin_models
from soundstage.settings import CONFIG_NAME, DATABASE_URL_ENV, Settings, load_settings
from soundstage.store.backends import open_store, parse_store_config
from soundstage.store.blobs import ContentStore
from soundstage.store.db import BUSY_SECONDS, Database, is_busy
from soundstage.store.models import Asset, AuditEvent, Person, Production


@dataclass
class Workspace:
    settings: Settings
    db: Database
    store: ContentStore

    def __post_init__(self) -> None:
        # the composition root's word to the keys module: a signer loaded from this production's
        # keys/ must be the keys its audit log records (as the guard is handed the store's capability)
        keys.adopt_ledger(self.settings.keys_dir, self)

    @property
    def production_id(self) -> str:
        return self.settings.production_id

    def recorded_signing_keys(self) -> RecordedKeys | None:
        """The signing keys the audit log records last: read through this thread's unit of work when
        one is open (the guard asks while it signs, holding the write order: a connection of its own
        would wait for the pool, which writers waiting for that order may have taken), else in a
        read-only transaction."""
        session = _units_held().get(self.db.url)
        if session is not None:
            return recorded_signing_keys(session)
        with self.db.transaction(read_only=True) as s:
            return recorded_signing_keys(s)

    @property
    def watermark_key(self) -> bytes | None:
        """The production's secret watermark key (None: a workspace from before production keys)."""
        return read_key(self.settings.keys_dir)

    def watermark_engine(self):
        """The engine that marks this production's outputs and finds their marks."""
        return default_engine(self.watermark_key)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One command = one transaction; on failure the ledger is left as before. The content a
        failed unit stored stays, named by nothing, until ``soundstage gc`` removes it past its grace
        period: a concurrent unit may have found the same content and committed a row naming it
        (DR010) - except a job's outputs, which the guard removes at once by gc's rule when their
        registration fails (``guard.removed_if_it_fails``). Each unit sees only the blobs it created
        (``store.unit``: concurrent requests share this workspace).

        A unit takes the ledger's write order before its first read (``audit.serialize``): units of
        work are serial, so nothing one writes rests on a read another has changed since - a
        revocation's walk and the registration of an output, a revocation and a suspension of one
        consent, two edits of one performer (red team, 2026-12-07; DR025). What only
        reads uses ``reading`` instead, which waits on no writer and may not write."""
        held = _units_held()
        if self.db.url in held:
            raise InternalError("a unit of work was opened inside another on the same ledger in one thread: it "
                                "would wait for the write order its own thread holds",
                                hint="read inside the outer unit, or use reading() for a read")
        try:
            with self.store.unit():
                try:
                    with self.db.transaction() as session:
                        try:
                            audit.serialize(session)
                        except OperationalError as exc:
                            if not is_busy(exc):
                                raise
                            raise BusyError("the ledger is busy: another command has held its write order for "
                                            f"{BUSY_SECONDS} s (signing outputs, a time-stamp authority answering "
                                            "slowly); nothing was done", hint="try again shortly") from None
                        held[self.db.url] = session
                        yield session
                except BaseException:
                    self.store.forget_new()
                    raise
                else:
                    self.store.commit_new()
        finally:
            held.pop(self.db.url, None)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads: it takes no write order (a reader waits on no writer, on
        SQLite as on PostgreSQL), and a write in it is refused before it reaches the database
        (``Database.transaction(read_only=True)``): a read path that starts writing must become a
        ``unit_of_work``."""
        with self.db.transaction(read_only=True) as session:
            yield session

    def close(self) -> None:
        self.db.dispose()


_THREAD = threading.local()


def _units_held() -> dict[str, Session]:
    """The ledgers (database URLs) this thread holds a unit of work on, with its session."""
    held = getattr(_THREAD, "units", None)
    if held is None:
        held = _THREAD.units = {}
    return held


def init_workspace(directory: Path, title: str, *, database_url: str | None = None,
                   actor: str = "soundstage", key_passphrase: str | None = None) -> Workspace:
    """Create config, asset store and ledger; refuse an existing non-empty directory."""
    title = title.strip()
    if not title:
        raise InputError("a production needs a title (--title)")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise AlreadyExistsError(f"{directory} already exists and is not empty",
                                 hint="choose a new directory; soundstage never overwrites a workspace")
    created_dir = not directory.exists()
    production_id = uuid.uuid4().hex[:12]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "assets").mkdir()
        (directory / "exports").mkdir()
        config = {
            "production": {"id": production_id, "title": title},
            "database": {} if database_url is None else {"url": database_url},
            "policy": {"packs": []},
            "trust": {"anchors": []},
        }
        tmp = directory / (CONFIG_NAME + ".tmp")
        tmp.write_text(tomli_w.dumps(config), encoding="utf-8")
        os.replace(tmp, directory / CONFIG_NAME)
        settings = load_settings(directory)
        db = Database(settings.database_url)
        if db.current_revision() is not None:
            with db.transaction() as s:
                existing = s.scalar(select(func.count()).select_from(Production))
            if existing:
                raise AlreadyExistsError(
                    "the database already holds a production",
                    hint=f"point {DATABASE_URL_ENV} at an empty database for a new workspace")
        db.upgrade()
        ws = Workspace(settings, db, guard.adopt_store(content_store(settings)))
        with ws.unit_of_work() as s:
            s.add(Production(id=production_id, title=title, created_at=datetime.now(timezone.utc)))
            s.flush()
            audit.append(s, production_id=production_id, actor=actor, action="production.created",
                         subject=production_id, payload={"title": title})
        _provision_safeguards(ws, actor, key_passphrase)
        return ws
    except BaseException:
        if created_dir:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for child in directory.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


def _provision_safeguards(ws: Workspace, actor: str, key_passphrase: str | None) -> None:
    """Safe by default: a new production can sign from its first asset, and its built-in
    backends are in the model registry like any other."""
    create_production_ca(ws.settings.keys_dir, ws.settings.title, key_passphrase)
    mark_key = create_key(ws.settings.keys_dir)
    with ws.unit_of_work() as s:
        record_signing_keys(s, ws, action="keys.created", actor=actor, encrypted=key_passphrase is not None)
        audit.append(s, production_id=ws.production_id, actor=actor, action="keys.created",
                     subject="watermark key", payload={"file": mark_key.name})
    register_builtin_models(ws, actor=actor)


def open_workspace(directory: Path) -> Workspace:
    if not directory.exists():
        raise WorkspaceError(f"no workspace at {directory}",
                             hint="create one with: soundstage init DIR --title \"...\" or pass --workspace")
    settings = load_settings(directory)
    db = Database(settings.database_url)
    db.check_current()
    return Workspace(settings, db, guard.adopt_store(content_store(settings)))


def production_summary(ws: Workspace) -> dict:
    with ws.reading() as s:
        prod = s.get(Production, ws.production_id)
        if prod is None:
            raise WorkspaceError("the ledger has no record of this production (wrong database?)")
        # the three counts in one statement: one round trip instead of three (the API's hottest read)
        assets, people, audit_events = s.execute(select(
            select(func.count()).select_from(Asset).scalar_subquery(),
            select(func.count()).select_from(Person).scalar_subquery(),
            select(func.count()).select_from(AuditEvent).scalar_subquery())).one()
        return {
            "production_id": prod.id,
            "title": prod.title,
            "created_at": prod.created_at.isoformat() if prod.created_at else None,
            "workspace": str(ws.settings.root),
            "database": _db_kind(ws.settings.database_url),
            "assets": assets or 0,
            "people": people or 0,
            "audit_events": audit_events or 0,
            "watermark_key": "production (secret)" if (ws.settings.keys_dir / KEY_FILE).is_file() else
                             "public default (create a production key: soundstage keys watermark)",
            # the key every credential's certificate chains to: compare it with the copy kept outside
            "identity_root": key_id_for(prod.identity_root) if prod.identity_root else None,
        }


def _db_kind(url: str) -> str:
    return "postgresql" if url.startswith("postgres") else "sqlite"


def content_store(settings) -> ContentStore:
    """Where the production's content lives: the local content-addressed folder (default), or the
    object store soundstage.toml's [store] table names (credentials come from the environment; DR010)."""
    return open_store(parse_store_config(settings.extra.get("store"), root=settings.root,
                                         production_id=settings.production_id, env=os.environ))
