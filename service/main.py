"""The ASGI app: ``uvicorn service.main:app`` (settings from the environment)."""

from service.api import create_app

app = create_app(warm_bulk=True)  # the served app: RebenchAPI's first request finds its table built
