"""`soundstage --help` stays cheap: importing the CLI loads no database, array, image, crypto or
model library. The services that need them are imported inside the command that runs (ruff's TID253
holds interfaces/cli to it, interfaces/cli/ruff.toml); this test catches a heavy import that
arrives indirectly, through a module the CLI may import at its top."""

import subprocess
import sys

HEAVY = {"sqlalchemy", "alembic", "numpy", "cv2", "PIL", "av", "torch", "cryptography", "fastapi", "uvicorn",
         "httpx", "reportlab", "c2pa"}


def loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_importing_the_cli_loads_no_heavy_library():
    loaded = loaded_by("import soundstage.interfaces.cli.app")
    assert {"soundstage", "typer"} <= loaded
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_the_check_sees_a_heavy_library_behind_a_service():
    assert {"sqlalchemy", "numpy"} <= loaded_by("import soundstage.services.ledger") & HEAVY
