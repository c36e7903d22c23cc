"""Signed audit entries, registered reviewers, review and back-dating facts on certificates (issue 15).

Revision ID: audit_seal_reviewers
Revises: 0003_pact_host
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "audit_seal_reviewers"
down_revision = "0003_pact_host"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # entries written before this revision stay unsigned; the first write after it appends a signed
    # ``seal`` entry whose chain covers them (footprint.registry.records.Registry.write)
    op.add_column("audit_log", sa.Column("signature", sa.String(128)))
    op.add_column("certificates", sa.Column("self_declared", sa.Boolean, nullable=False,
                                            server_default=sa.false()))
    op.add_column("certificates", sa.Column("review", sa.Text))
    op.add_column("certificates", sa.Column("backdated", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("certificates", sa.Column("pdf_history", sa.Text, nullable=False, server_default="[]"))
    op.create_table(
        "reviewers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("organisation", sa.String(512), nullable=False),
        sa.Column("accreditation", sa.String(256)),
        sa.Column("email", sa.String(256)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("added_at", sa.String(40), nullable=False),
        sa.Column("removed_at", sa.String(40)),
    )


def downgrade() -> None:
    op.drop_table("reviewers")
    with op.batch_alter_table("certificates") as batch:
        for column in ("pdf_history", "backdated", "review", "self_declared"):
            batch.drop_column(column)
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("signature")
