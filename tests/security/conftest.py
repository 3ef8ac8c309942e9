"""Fixtures for the red-team suite (defined in redteam.py, next to the helpers the tests import)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)  # redteam and security_backends (the registry imports the latter by name)

from redteam import api, api_db, counting, listener, prod, prod_db  # noqa: E402,F401  (fixtures)
