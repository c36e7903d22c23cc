"""The certificate registry: numbers, records, statuses, supersession, revocation, signed exports.

SQLite file ``<home>/registry.sqlite`` by default; ``FOOTPRINT_DATABASE_URL`` selects another
database (PostgreSQL: ``postgresql://user@host/db``, driven by psycopg 3). Opening a registry
upgrades its schema to the newest Alembic revision under the write lock, so parallel first opens
are safe.

Every write is one transaction holding the registry's write lock (SQLite ``BEGIN IMMEDIATE``;
PostgreSQL a transaction-scoped advisory lock), so numbers, supersessions and the audit chain
cannot interleave. Numbering: ``FP-<PARK>-<YEAR>-<SEQUENCE>-<CHECK>``, the check character being
ISO 7064 MOD 37,36 over the letters and digits, so a mistyped number is refused rather than
matched to another certificate. A number is reserved (committed) before its document is rendered;
an issue that then fails records a ``void`` audit entry for it, so numbers are never reused and
every gap is explained.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, insert, select, text, update
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from footprint.files import write_atomic
from footprint.registry import audit
from footprint.registry.schema import Certificate, Counter

URL_ENV = "FOOTPRINT_DATABASE_URL"
DB_FILE = "registry.sqlite"
EXPORT_FORMAT = "footprint-registry-export/1"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NUMBER = re.compile(r"^([A-Z0-9-]+)-(\d{4})-(\d{5,})-([0-9A-Z])$")
_PG_LOCK = 0x46500001  # arbitrary constant: the registry's advisory lock key


class RegistryError(Exception):
    """A registry operation that cannot be done (unknown number, bad check character, wrong status)."""


# ---- numbers -------------------------------------------------------------------------------


def check_character(body: str) -> str:
    """ISO 7064 MOD 37,36 check character of the letters and digits of ``body``."""
    m, p = 36, 36
    for ch in body.upper():
        if ch not in _ALPHABET:
            continue
        p = (p + _ALPHABET.index(ch)) % m or m
        p = (p * 2) % (m + 1)
    return _ALPHABET[(m + 1 - p) % m]


def format_number(park: str, year: int, sequence: int, prefix: str = "FP") -> str:
    """``<PREFIX>-<PARK>-<YEAR>-<SEQUENCE>-<CHECK>``; the prefix is the issuer's (``FP`` by default)."""
    body = f"{prefix.upper()}-{park.upper()}-{year:04d}-{sequence:05d}"
    return f"{body}-{check_character(body)}"


def parse_number(number: str) -> tuple[str, int, int]:
    """(prefix and park, year, sequence) of a certificate number; a wrong check character is an error."""
    m = _NUMBER.match(number.strip().upper())
    if not m:
        raise RegistryError(f"{number!r} is not a certificate number (<PREFIX>-<PARK>-<YEAR>-<SEQUENCE>-<CHECK>)")
    body = number.strip().upper()[:-2]
    if check_character(body) != m.group(4):
        raise RegistryError(f"{number!r}: wrong check character (mistyped number?)")
    return m.group(1).lower(), int(m.group(2)), int(m.group(3))


# ---- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    number: str
    park: str
    year: int
    sequence: int


@dataclass(frozen=True)
class NewCertificate:
    """What the registry records about a certificate being issued (no rendering, no computing)."""

    product_id: str
    product_name: str
    holder: str
    unit: str
    total: float
    fossil: float
    biogenic: float
    luc: float
    data_sha256: str
    pdf_sha256: str
    file_name: str
    signer: str
    signer_fingerprint: str
    signature_level: str
    demo: bool
    valid_from: dt.datetime
    valid_until: dt.datetime
    holder_id: str | None = None
    facility: str | None = None
    primary_data_share: float | None = None
    period_start: str | None = None
    period_end: str | None = None
    scheme: str | None = None
    surveillance_due: dt.datetime | None = None
    pact_json: str | None = None


@dataclass(frozen=True)
class Record:
    """A registry entry as verification sees it (from the database or from a signed export)."""

    number: str
    park: str
    product_id: str
    product_name: str
    holder: str
    unit: str
    total: float
    fossil: float
    biogenic: float
    luc: float
    data_sha256: str
    pdf_sha256: str
    issued_at: str
    valid_from: str
    valid_until: str
    status: str
    status_reason: str | None
    revoked_at: str | None
    revocation_reason: str | None
    supersedes: str | None
    superseded_by: str | None
    demo: bool
    scheme: str | None = None
    surveillance_due: str | None = None

    def surveillance_overdue(self, now: dt.datetime | None = None) -> bool:
        """Active, and the scheme's surveillance was due before ``now`` and not recorded."""
        return (self.status == "active" and self.surveillance_due is not None
                and (now or _now()) > _parse_time(self.surveillance_due))

    def status_at(self, now: dt.datetime | None = None) -> str:
        """The stored status, except an active certificate past its validity is ``expired``."""
        now = now or _now()
        if self.status == "active" and now > _parse_time(self.valid_until):
            return "expired"
        if self.status == "active" and now < _parse_time(self.valid_from):
            return "not yet valid"
        return self.status


def _key(number: str) -> str:
    return number.strip().upper()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _iso(t: dt.datetime | None) -> str | None:
    t = _utc(t)
    return t.isoformat(timespec="seconds") if t else None


def _parse_time(s: str) -> dt.datetime:
    return _utc(dt.datetime.fromisoformat(s))  # type: ignore[return-value]


def _record(c: Certificate) -> Record:
    return Record(
        number=c.number, park=c.park, product_id=c.product_id, product_name=c.product_name, holder=c.holder,
        unit=c.unit, total=c.total, fossil=c.fossil, biogenic=c.biogenic, luc=c.luc, data_sha256=c.data_sha256,
        pdf_sha256=c.pdf_sha256, issued_at=_iso(c.issued_at), valid_from=_iso(c.valid_from),  # type: ignore[arg-type]
        valid_until=_iso(c.valid_until), status=c.status, status_reason=c.status_reason,  # type: ignore[arg-type]
        revoked_at=_iso(c.revoked_at), revocation_reason=c.revocation_reason, supersedes=c.supersedes,
        superseded_by=c.superseded_by, demo=c.demo, scheme=c.scheme, surveillance_due=_iso(c.surveillance_due),
    )


# ---- opening -------------------------------------------------------------------------------


def default_url(home: Path) -> str:
    return os.environ.get(URL_ENV) or f"sqlite:///{home / DB_FILE}"


def _normalise(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver footprint depends on)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _engine(url: str) -> Engine:
    url = _normalise(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 120})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # noqa: ANN001 - DBAPI types
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=120000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # noqa: ANN001
            # writers take the write lock up front: a deferred transaction upgrading to a write lock
            # fails with SQLITE_BUSY at once instead of waiting; readers (WAL) need no lock
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("footprint_read") else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _migrations_config(connection):  # noqa: ANN001, ANN202
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["connection"] = connection
    return cfg


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_migrations_config(None)).get_current_head()  # type: ignore[return-value]


class Registry:
    """A certificate registry at one database URL."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(footprint_read=True), expire_on_commit=False)
        self._upgrade()

    @classmethod
    def open(cls, home: Path, url: str | None = None) -> Registry:
        """The registry of a data directory (or the given URL), created or upgraded as needed."""
        return cls(url or default_url(home))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _upgrade(self) -> None:
        head = _head_revision()
        try:
            with self.engine.execution_options(footprint_read=True).connect() as conn:
                current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                conn.rollback()
            if current == head:
                return
        except (OperationalError, ProgrammingError):
            pass  # no alembic_version table yet
        from alembic import command

        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            command.upgrade(_migrations_config(conn), "head")

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction holding the registry's write lock; commits on success, rolls back on error."""
        with self._sessions.begin() as session:
            if self.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot (no write lock)."""
        with self._readers() as session:
            yield session
            session.rollback()

    # ---- issuing ---------------------------------------------------------------------------

    def reserve(self, park: str, year: int | None = None, prefix: str = "FP") -> Reservation:
        """Hand out the next number of a park and year (committed at once, never handed out again)."""
        year = year or _now().year
        with self.write() as s:
            row = s.get(Counter, (park, year))
            if row is None:
                s.execute(insert(Counter).values(park=park, year=year, last=1))
                seq = 1
            else:
                seq = s.execute(update(Counter).where(Counter.park == park, Counter.year == year)
                                .values(last=Counter.last + 1).returning(Counter.last)).scalar_one()
        return Reservation(format_number(park, year, seq, prefix), park, year, seq)

    def record(self, reservation: Reservation, cert: NewCertificate, at: dt.datetime | None = None,
               copy: bytes | None = None) -> Record:
        """Record an issued certificate; an active one for the same product becomes ``superseded``.

        ``copy`` is the signed PDF: the registry's own copy, stored in the same transaction
        (:mod:`footprint.registry.copies`).
        """
        at = _utc(at) or _now()
        with self.write() as s:
            if s.execute(select(Certificate.id).where(Certificate.number == reservation.number)).first():
                raise RegistryError(f"{reservation.number} is already recorded")
            previous = s.execute(select(Certificate).where(
                Certificate.park == reservation.park, Certificate.product_id == cert.product_id,
                Certificate.status.in_(("active", "suspended")))).scalars().all()
            row = Certificate(number=reservation.number, park=reservation.park, year=reservation.year,
                              sequence=reservation.sequence, issued_at=at, status="active", status_changed_at=at,
                              supersedes=previous[-1].number if previous else None, **asdict(cert))
            s.add(row)
            if copy is not None:
                from footprint.registry import copies

                copies.add(s, reservation.number, copy, cert.pdf_sha256)
            for old in previous:
                old.status, old.status_changed_at = "superseded", at
                old.status_reason, old.superseded_by = f"superseded by {reservation.number}", reservation.number
            s.flush()
            audit.append(s, "issue", reservation.number, {
                "product_id": cert.product_id, "holder": cert.holder, "total": cert.total, "unit": cert.unit,
                "data_sha256": cert.data_sha256, "pdf_sha256": cert.pdf_sha256, "signer": cert.signer_fingerprint,
                "valid_until": _iso(cert.valid_until), "supersedes": row.supersedes, "scheme": cert.scheme,
                "surveillance_due": _iso(cert.surveillance_due)}, at)
            for old in previous:
                audit.append(s, "supersede", old.number, {"by": reservation.number}, at)
            return _record(row)

    def void(self, number: str, reason: str) -> None:
        """Note in the audit log that a reserved number will never be issued (its issue failed)."""
        with self.write() as s:
            audit.append(s, "void", number, {"reason": reason})

    # ---- status ----------------------------------------------------------------------------

    def _change(self, number: str, action: str, allowed: tuple[str, ...], status: str, reason: str,
                at: dt.datetime | None) -> Record:
        parse_number(number)
        at = _utc(at) or _now()
        if not reason.strip():
            raise RegistryError("a reason is required")
        with self.write() as s:
            row = s.execute(select(Certificate).where(Certificate.number == _key(number))).scalar_one_or_none()
            if row is None:
                raise RegistryError(f"no certificate {number} in this registry")
            if row.status not in allowed:
                raise RegistryError(f"{row.number} is {row.status}; cannot {action} it")
            before = row.status
            row.status, row.status_changed_at, row.status_reason = status, at, reason
            if status == "withdrawn":
                row.revoked_at, row.revocation_reason = at, reason
            audit.append(s, action, row.number, {"reason": reason, "from": before}, at)
            return _record(row)

    def record_surveillance(self, number: str, passed: bool, by: str, note: str,
                            at: dt.datetime | None = None) -> Record:
        """Record a surveillance under the certificate's scheme: a pass keeps it active and sets the
        next due date (none when the certificate ends first); a fail suspends it."""
        from footprint.registry.schemes import SCHEMES, surveillance_due

        parse_number(number)
        at = _utc(at) or _now()
        if not by.strip() or not note.strip():
            raise RegistryError("a surveillance needs who carried it out (--by) and a note of what was found")
        with self.write() as s:
            row = s.execute(select(Certificate).where(Certificate.number == _key(number))).scalar_one_or_none()
            if row is None:
                raise RegistryError(f"no certificate {number} in this registry")
            if row.status != "active":
                raise RegistryError(f"{row.number} is {row.status}; surveillance applies to active certificates")
            if row.surveillance_due is None:
                raise RegistryError(f"{row.number} has no surveillance due (scheme {row.scheme or 'pact'})")
            due = _utc(row.surveillance_due)
            following = surveillance_due(SCHEMES[row.scheme], due.date(), _utc(row.valid_until).date()) \
                if passed else None
            audit.append(s, "surveillance", row.number, {
                "result": "pass" if passed else "fail", "by": by, "note": note, "due": _iso(due),
                "next_due": following.isoformat() if following else None, "scheme": row.scheme}, at)
            if passed:
                row.surveillance_due = dt.datetime.combine(following, dt.time(0), tzinfo=dt.UTC) if following else None
            else:
                row.status, row.status_changed_at = "suspended", at
                row.status_reason = f"surveillance failed: {note}"
                audit.append(s, "suspend", row.number, {"reason": row.status_reason, "from": "active"}, at)
            s.flush()
            return _record(row)

    def due(self, within_days: int = 0, now: dt.datetime | None = None) -> list[Record]:
        """Active certificates whose surveillance is due within ``within_days`` or overdue, soonest first."""
        limit = (now or _now()) + dt.timedelta(days=within_days)
        with self.read() as s:
            rows = s.execute(select(Certificate).where(Certificate.status == "active",
                                                       Certificate.surveillance_due.is_not(None))
                             .order_by(Certificate.surveillance_due, Certificate.id)).scalars()
            return [_record(c) for c in rows if _utc(c.surveillance_due) <= limit]

    def footprint_json(self, number: str) -> str | None:
        """The PACT ProductFootprint embedded in the certificate as issued (None for older certificates)."""
        with self.read() as s:
            return s.execute(select(Certificate.pact_json).where(Certificate.number == _key(number))).scalar()

    def predecessors(self, park: str, product_id: str) -> list[str]:
        """Numbers of every certificate of the product a new one would follow, newest first: the current
        active or suspended one, then the ones it superseded in turn."""
        with self.read() as s:
            rows = {c.number: (c.id, c.status, c.supersedes) for c in s.execute(select(Certificate).where(
                Certificate.park == park, Certificate.product_id == product_id)).scalars()}
        current = [(row[0], n) for n, row in rows.items() if row[1] in ("active", "suspended")]
        chain: list[str] = []
        number = max(current)[1] if current else None
        while number and number in rows and number not in chain:
            chain.append(number)
            number = rows[number][2]
        return chain

    def revoke(self, number: str, reason: str, at: dt.datetime | None = None) -> Record:
        """Withdraw a certificate for good (the accreditation world's word for revoking)."""
        return self._change(number, "revoke", ("active", "suspended", "superseded"), "withdrawn", reason, at)

    def suspend(self, number: str, reason: str, at: dt.datetime | None = None) -> Record:
        return self._change(number, "suspend", ("active",), "suspended", reason, at)

    def reinstate(self, number: str, reason: str, at: dt.datetime | None = None) -> Record:
        return self._change(number, "reinstate", ("suspended",), "active", reason, at)

    # ---- reading ---------------------------------------------------------------------------

    def get(self, number: str) -> Record | None:
        with self.read() as s:
            row = s.execute(select(Certificate).where(Certificate.number == _key(number))).scalar_one_or_none()
            return _record(row) if row else None

    def records(self) -> list[Record]:
        with self.read() as s:
            return [_record(c) for c in s.execute(select(Certificate).order_by(Certificate.id)).scalars()]

    def audit_report(self) -> audit.ChainReport:
        with self.read() as s:
            return audit.verify(s)

    def export_payload(self, now: dt.datetime | None = None) -> dict:
        """Every issued certificate with its status: what a buyer needs to verify offline."""
        with self.read() as s:
            report = audit.verify(s)
            records = [asdict(_record(c)) for c in s.execute(select(Certificate).order_by(Certificate.id)).scalars()]
        return {"format": EXPORT_FORMAT, "generated_at": _iso(now or _now()), "audit_head": report.head,
                "audit_entries": report.entries, "certificates": records}


def record_from_dict(d: dict) -> Record:
    return Record(**{k: d.get(k) for k in Record.__dataclass_fields__})  # type: ignore[arg-type]


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def write_export(registry: Registry, key, path: Path, now: dt.datetime | None = None) -> dict:  # noqa: ANN001
    """Write the signed JSON export: ``{"payload": {...}, "signature": base64 CMS}``; returns the payload."""
    import base64

    from footprint.certificates.signing import sign_detached

    payload = registry.export_payload(now)
    payload["signer"] = key.holder
    doc = {"payload": payload, "signature": base64.b64encode(sign_detached(canonical(payload), key)).decode()}
    write_atomic(path, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return payload


def read_export(path: Path, roots: list) -> tuple[dict, str]:
    """(payload, signer) of a signed export; ``ValueError`` if it is not one or not signed by a trusted key."""
    import base64

    from footprint.certificates.signing import verify_detached

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        payload, signature = doc["payload"], base64.b64decode(doc["signature"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a footprint registry export ({e})") from None
    if not isinstance(payload, dict) or payload.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{path}: not a {EXPORT_FORMAT} document")
    signer = verify_detached(canonical(payload), signature, roots)
    return payload, signer
