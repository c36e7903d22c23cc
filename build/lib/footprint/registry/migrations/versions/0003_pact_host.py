"""PACT host API and verification pages: certificate copies, API clients, access tokens, PACT events.

Revision ID: 0003_pact_host
Revises: 0002_scheme_surveillance_pact
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_pact_host"
down_revision = "0002_scheme_surveillance_pact"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "certificate_copies",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.String(128), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
    )
    op.create_table(
        "access_tokens",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(128), nullable=False, index=True),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False, index=True),
    )
    op.create_table(
        "pact_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(256), nullable=False),
        sa.Column("source", sa.String(2048), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("reply_source", sa.String(2048), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("reply", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ),
        sa.Column("lease_until", TZ),
        sa.Column("lease_owner", sa.String(36)),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", TZ),
        sa.UniqueConstraint("client_id", "source", "event_id", name="uq_pact_events_origin"),
    )


def downgrade() -> None:
    for table in ("pact_events", "access_tokens", "api_clients", "certificate_copies"):
        op.drop_table(table)
