"""REST v1: ``create_app()`` builds the FastAPI app (routers in ``routes/``, one per resource)."""

from .app import API_VERSION, create_app

__all__ = ["create_app", "API_VERSION"]
