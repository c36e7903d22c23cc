"""Alembic migrations of the certificate registry (run to head whenever a registry is opened)."""
