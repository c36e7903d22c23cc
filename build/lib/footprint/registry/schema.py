"""Tables of the certificate registry (SQLAlchemy 2). Changes go through an Alembic revision.

The audit log is append-only: database triggers refuse UPDATE and DELETE (migration 0001), each
entry holds the hash of the previous one and the registry key's signature of its own hash
(``footprint.registry.audit``), and every other table here can be rebuilt from the log, so an
edit made around the triggers or straight to a table shows in ``footprint audit verify``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
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
    #: issued without a third-party review (``certify --self-declared``); else ``review`` says by whom
    self_declared: Mapped[bool] = mapped_column(Boolean, default=False)
    #: JSON: the approving decision (audit entry seq and hash, reviewer id, name, organisation, time, bundle)
    review: Mapped[str | None] = mapped_column(Text)
    #: the issue date printed is earlier than the day it was recorded (``certify --backdate``)
    backdated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: JSON list: SHA-256 of the earlier files of this certificate, before later document timestamps
    pdf_history: Mapped[str] = mapped_column(Text, default="[]")


class Counter(Base):
    """The last sequence number handed out per park and year."""

    __tablename__ = "counters"

    park: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """One event (reserve, issue, void, revoke, suspend, reinstate, review decision, ...), chained and signed."""

    __tablename__ = "audit_log"
    #: a certificate's entries found without scanning the log; on SQLite the narrowest index, which its
    #: count(*) walks (revision audit_log_lookup_indexes)
    __table_args__ = (Index("ix_audit_log_subject", "subject", "seq"),
                      Index("ix_audit_log_seq", "seq").ddl_if(dialect="sqlite"))

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the registry key's Ed25519 signature of ``hash`` (base64); NULL only for entries older than the key
    signature: Mapped[str | None] = mapped_column(String(128))


class Reviewer(Base):
    """A registered reviewer: decisions must name one (``footprint reviewers add``)."""

    __tablename__ = "reviewers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    organisation: Mapped[str] = mapped_column(String(512))
    accreditation: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[str] = mapped_column(String(40))
    removed_at: Mapped[str | None] = mapped_column(String(40))


class CertificateCopy(Base):
    """The registry's copy of an issued certificate's signed PDF (copies.py)."""

    __tablename__ = "certificate_copies"

    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)


class ApiClient(Base):
    """A PACT API client: OAuth2 client id and the Argon2id hash of its secret (api_clients.py)."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AccessToken(Base):
    """An access token issued by /auth/token, kept as its SHA-256 (api_clients.py)."""

    __tablename__ = "access_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class PactEvent(Base):
    """A CloudEvent received on /3/events and, for a request, the reply owed and its delivery (pact_events.py)."""

    __tablename__ = "pact_events"
    __table_args__ = (UniqueConstraint("client_id", "source", "event_id", name="uq_pact_events_origin"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(2048))
    type: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    body: Mapped[str] = mapped_column(Text)
    reply_source: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(16), index=True)  # received, pending, delivered, abandoned
    reply: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# ---- the web app's tables (footprint.service.web); written only by the web package and `footprint users` ----


class User(Base):
    """A person who logs in to the web app; ``password_hash`` is Argon2id (web/accounts.py)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # manufacturer, reviewer, issuer, admin
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserEnterprise(Base):
    """An enterprise (``facilities.csv`` ``enterprise_id``) whose parks, results and certificates a user sees."""

    __tablename__ = "user_enterprises"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class LoginAttempt(Base):
    """A failed login, by e-mail and by client address (``key``: ``email:…`` or ``addr:…``), for throttling."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(320), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class WebSession(Base):
    """A logged-in browser: the SHA-256 of its cookie token, its CSRF token and when it ends."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class Job(Base):
    """Long work of the web app (compute, review, issue), run by a server's job worker process (web/jobs.py)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # JSON
    owner_user_id: Mapped[int] = mapped_column(Integer, index=True)
    subject: Mapped[str] = mapped_column(String(128), index=True)  # e.g. submission:3, request:7
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, done, failed
    step: Mapped[str] = mapped_column(Text, default="")
    fraction: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    error: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(512))  # where the job page goes when it is done
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(64))  # the worker process running it
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Submission(Base):
    """A park uploaded through the web app, stored only after it validated (``<home>/web/submissions/<id>/``)."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[str] = mapped_column(String(64), index=True)
    enterprise_ids: Mapped[str] = mapped_column(Text)  # JSON list, from facilities.csv
    folder: Mapped[str] = mapped_column(String(1024))
    file_name: Mapped[str] = mapped_column(String(255))  # as uploaded (shown, never used as a path)
    content_sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CertificationRequest(Base):
    """A manufacturer's request to certify products of a submission, worked by reviewers and issuers."""

    __tablename__ = "certification_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(Integer, index=True)
    products: Mapped[str] = mapped_column(Text)  # JSON list of product ids
    status: Mapped[str] = mapped_column(String(16), index=True)  # requested, reviewing, approved, rejected, issued
    requested_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    certificate_numbers: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
