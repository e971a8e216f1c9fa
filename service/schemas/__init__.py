"""Pydantic request/response models of REST v1 (separate from the storage models)."""
