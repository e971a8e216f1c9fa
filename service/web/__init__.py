"""The web pages (server-rendered HTML + inline SVG) served by the API process."""

from .router import install_web, router

__all__ = ["install_web", "router"]
