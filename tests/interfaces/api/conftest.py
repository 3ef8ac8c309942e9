"""Fixtures for the API tests; the production they serve is built in api_helpers.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from api_helpers import client, production  # noqa: E402,F401  (fixtures)
