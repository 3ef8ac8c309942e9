"""Fixtures for the web app's tests: the API tests' production (api_helpers.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
sys.path.insert(0, str(Path(__file__).parent))

from api_helpers import client, production  # noqa: E402,F401  (fixtures)
