"""Fixtures for the web app's tests: the API tests' production (api_helpers.py), and that production
served by a real uvicorn server for the browser tests."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
sys.path.insert(0, str(Path(__file__).parent))

from api_helpers import client, production  # noqa: E402,F401  (fixtures)
from api_helpers import build_production  # noqa: E402


@pytest.fixture
def served(sqlite_workspace, tmp_path, serve_app):
    """The API tests' production on a real uvicorn server: its dict, with "base" (the server's URL)."""
    prod = build_production(sqlite_workspace, tmp_path)
    prod["ws"] = sqlite_workspace
    prod["base"] = serve_app(sqlite_workspace)
    return prod
