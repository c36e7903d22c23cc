"""The web app's tables: users, their enterprises, failed logins, sessions, jobs, submissions, certification requests.

Revision ID: web_accounts_jobs
Revises: audit_seal_reviewers
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_accounts_jobs"
down_revision = "audit_seal_reviewers"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("disabled_at", TZ),
    )
    op.create_table(
        "user_enterprises",
        sa.Column("user_id", sa.Integer, primary_key=True),
        sa.Column("enterprise_id", sa.String(64), primary_key=True),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(320), nullable=False, index=True),
        sa.Column("at", TZ, nullable=False, index=True),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False, index=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False, index=True),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("owner_user_id", sa.Integer, nullable=False, index=True),
        sa.Column("subject", sa.String(128), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("fraction", sa.Float, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("link", sa.String(512)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("started_at", TZ),
        sa.Column("finished_at", TZ),
        sa.Column("worker", sa.String(64)),
        sa.Column("lease_until", TZ),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("park_id", sa.String(64), nullable=False, index=True),
        sa.Column("enterprise_ids", sa.Text, nullable=False),
        sa.Column("folder", sa.String(1024), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "certification_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("submission_id", sa.Integer, nullable=False, index=True),
        sa.Column("products", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("requested_by", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("decided_by", sa.Integer),
        sa.Column("decided_at", TZ),
        sa.Column("decision_note", sa.Text),
        sa.Column("certificate_numbers", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("certification_requests", "submissions", "jobs", "web_sessions", "login_attempts",
                  "user_enterprises", "users"):
        op.drop_table(table)
