"""Indexes for looking up one certificate's audit entries and counting the log without scanning it.

``Registry.checked`` (every ``footprint verify``) reads a certificate's entries by subject: without an
index that scanned the whole log (120 ms of CPU at 100,000 entries on SQLite). It also counts the log
to see that no entry was deleted: SQLite counts a table by walking the pages of its narrowest index,
and the narrowest was the 64-character ``hash`` (≈ 2,000 pages at 100,000 entries, 3.4 ms); an index
of ``seq`` alone holds ≈ 400 entries a page. PostgreSQL has no such shortcut (it counts rows through
its primary key), so that index is made on SQLite only.

Revision ID: audit_log_lookup_indexes
Revises: web_accounts_jobs
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "audit_log_lookup_indexes"
down_revision = "web_accounts_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_subject", "audit_log", ["subject", "seq"])
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_audit_log_seq", "audit_log", ["seq"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_audit_log_seq", "audit_log")
    op.drop_index("ix_audit_log_subject", "audit_log")
