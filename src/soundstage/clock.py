"""The one clock: the current time in UTC, and a timestamp read back from the ledger made aware.

Every time soundstage writes is UTC. SQLite hands timestamps back without their zone, so a naive
datetime read from the ledger means UTC (``as_utc``).
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["utcnow", "as_utc"]


def utcnow() -> datetime:
    """Now, in UTC (timezone-aware)."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` with its zone: a naive datetime is UTC (what SQLite returns for what we wrote)."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
