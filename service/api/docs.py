"""``/docs`` (Swagger UI) and ``/redoc`` served with their JavaScript and CSS from this app.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so on a machine without
internet they are blank while the README, the nav and every 404 point there. The assets
come from the ``fastapi-offline`` package (a maintained bundle of both, installed with the
``api`` extra) and are mounted under ``/docs-static``; no page here names another host.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["install_docs", "ASSETS", "STATIC_URL"]

STATIC_URL = "/docs-static"


def _assets() -> Path:
    import fastapi_offline  # only its static/ folder: swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js

    return Path(fastapi_offline.__file__).parent / "static"


ASSETS = _assets()


def install_docs(app: FastAPI) -> None:
    """Mount the assets and the two pages; create the app with ``docs_url=None, redoc_url=None``."""
    app.mount(STATIC_URL, StaticFiles(directory=ASSETS), name="docs-static")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} - Swagger UI",
                                   swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{STATIC_URL}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{title} - ReDoc",
                              redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{STATIC_URL}/favicon.png", with_google_fonts=False)
