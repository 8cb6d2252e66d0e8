"""Alembic migrations of the SafeGrid schema."""
