"""The one canonical JSON serialisation: what is hashed, chained and signed (pure).

Keys sorted, no whitespace, UTF-8 text as is; anything that is not JSON is written as its text.
Audit events, job spec digests, approval and consent signatures and checkpoints all hash these
bytes, so two writers can never disagree about what was signed.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json", "canonical_bytes"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(data: Any) -> str:
    return _ENCODER.encode(data)


def canonical_bytes(data: Any) -> bytes:
    return _ENCODER.encode(data).encode("utf-8")
