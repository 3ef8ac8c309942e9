"""Fixtures the service tests share: ``production`` is the API tests' sample production (Maya, Noah,
crew, a plate), on SQLite, with its workspace under ``production["ws"]``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interfaces" / "api"))

from api_helpers import production  # noqa: E402,F401 (fixture)
