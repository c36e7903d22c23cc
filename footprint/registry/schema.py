"""Tables of the certificate registry (SQLAlchemy 2). Changes go through an Alembic revision.

The audit log is append-only: database triggers refuse UPDATE and DELETE (migration 0001), and
each entry holds the hash of the previous one so even an edit made around the triggers shows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: status vocabulary of accreditation bodies (ISO/IEC 17065 practice); ``withdrawn`` is a revocation
STATUSES = ("active", "suspended", "withdrawn", "expired", "superseded")


class Base(DeclarativeBase):
    pass


class Certificate(Base):
    """One issued certificate: what it states, the hashes that bind the PDF to it, and its status."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("park", "year", "sequence", name="uq_certificates_sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    park: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(String(128), index=True)
    product_name: Mapped[str] = mapped_column(String(512))
    holder: Mapped[str] = mapped_column(String(512))
    holder_id: Mapped[str | None] = mapped_column(String(64))
    facility: Mapped[str | None] = mapped_column(String(512))
    unit: Mapped[str] = mapped_column(String(32))
    total: Mapped[float] = mapped_column(Float)
    fossil: Mapped[float] = mapped_column(Float)
    biogenic: Mapped[float] = mapped_column(Float)
    luc: Mapped[float] = mapped_column(Float)
    primary_data_share: Mapped[float | None] = mapped_column(Float)
    period_start: Mapped[str | None] = mapped_column(String(10))
    period_end: Mapped[str | None] = mapped_column(String(10))
    data_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(512))
    signer: Mapped[str] = mapped_column(String(512))
    signer_fingerprint: Mapped[str] = mapped_column(String(64))
    signature_level: Mapped[str] = mapped_column(String(16))
    demo: Mapped[bool] = mapped_column(Boolean)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status_reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    supersedes: Mapped[str | None] = mapped_column(String(64))
    superseded_by: Mapped[str | None] = mapped_column(String(64))
    scheme: Mapped[str | None] = mapped_column(String(32))  # registry/schemes.py; None before revision 0002
    surveillance_due: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    pact_json: Mapped[str | None] = mapped_column(Text)  # the embedded PACT ProductFootprint, as issued


class Counter(Base):
    """The last sequence number handed out per park and year."""

    __tablename__ = "counters"

    park: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """One event (issue, void, revoke, suspend, reinstate, review decision), chained by hash."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
