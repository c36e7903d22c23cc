"""Certificates: the certification scheme, the next surveillance date, and the PACT record issued.

Revision ID: 0002_scheme_surveillance_pact
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_scheme_surveillance_pact"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("scheme", sa.String(32), nullable=True))
        batch.add_column(sa.Column("surveillance_due", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pact_json", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("pact_json")
        batch.drop_column("surveillance_due")
        batch.drop_column("scheme")
