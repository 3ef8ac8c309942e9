"""Asset ids: 63-bit ledger ids that the watermark carries (pure; no I/O).

Written as 16 lowercase hex digits everywhere a person or a spec sees one ("A-" prefix accepted).
"""

from __future__ import annotations

import secrets

from soundstage.errors import InputError

__all__ = ["ASSET_ID_BITS", "new_asset_id", "format_asset_id", "parse_asset_id"]

ASSET_ID_BITS = 63  # the watermark carries the asset id; 63 bits keeps it a positive BIGINT


def new_asset_id() -> int:
    while True:
        value = secrets.randbits(ASSET_ID_BITS)
        if value:
            return value


def format_asset_id(value: int) -> str:
    return f"{value:016x}"


def parse_asset_id(text: str) -> int:
    try:
        value = int(text.strip().removeprefix("A-").removeprefix("a-"), 16)
    except ValueError:
        raise InputError(f"not an asset id: {text!r} (expected 16 hex digits)") from None
    if not 0 < value < (1 << ASSET_ID_BITS):
        raise InputError(f"not an asset id: {text!r}")
    return value
