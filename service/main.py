"""The ASGI app: ``uvicorn service.main:app`` (settings from the environment)."""

from service.api import create_app

app = create_app()
