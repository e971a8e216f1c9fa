"""Alembic migrations, shipped inside the package so ``rebench db upgrade`` works from any CWD."""
