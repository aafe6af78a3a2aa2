"""Alembic migration scripts (run through :mod:`brightline.store.migrate`)."""
