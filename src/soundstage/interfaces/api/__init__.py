"""The REST API (FastAPI) over the service layer; ``create_app(workspace_dir)`` builds it."""

from soundstage.interfaces.api.app import create_app

__all__ = ["create_app"]
