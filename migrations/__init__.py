"""Alembic migrations, shipped as a package so ``rebench db upgrade`` works from any CWD."""
