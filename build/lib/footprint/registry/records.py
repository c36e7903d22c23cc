"""The certificate registry: numbers, records, statuses, supersession, revocation, signed exports.

SQLite file ``<home>/registry.sqlite`` by default; ``FOOTPRINT_DATABASE_URL`` selects another
database (PostgreSQL: ``postgresql://user@host/db``, driven by psycopg 3). Opening a registry
upgrades its schema to the newest Alembic revision under the write lock, so parallel first opens
are safe.

Every write is one transaction holding the registry's write lock (SQLite ``BEGIN IMMEDIATE``;
PostgreSQL a transaction-scoped advisory lock), so numbers, supersessions and the audit chain
cannot interleave. Numbering: ``FP-<PARK>-<YEAR>-<SEQUENCE>-<CHECK>``, the check character being
ISO 7064 MOD 37,36 over the letters and digits, so a mistyped number is refused rather than
matched to another certificate. A number is reserved (committed, with a ``reserve`` audit entry
naming the process) before its document is rendered; an issue that then fails records a ``void``
entry, and a process killed before either is found by :meth:`Registry.recover`, so numbers are
never reused and every gap is explained.

Every change is an audit entry signed with the registry key (:mod:`footprint.registry.seal`)
holding the columns it set, so :func:`footprint.registry.audit.verify` can rebuild the tables from
the log and catch a row changed in SQL (the replay functions are at the end of this module).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import (
    CompoundSelect,
    Engine,
    Text,
    bindparam,
    case,
    cast,
    create_engine,
    event,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from footprint.files import write_atomic
from footprint.registry import audit, seal
from footprint.registry.schema import AuditEntry, Certificate, Counter

URL_ENV = "FOOTPRINT_DATABASE_URL"
DB_FILE = "registry.sqlite"
EXPORT_FORMAT = "footprint-registry-export/2"
#: a reservation of another host is taken as abandoned after this long (issuing one takes seconds)
STALE_AFTER = dt.timedelta(hours=1)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NUMBER = re.compile(r"^([A-Z0-9-]+)-(\d{4})-(\d{5,})-([0-9A-Z])$")
_PG_LOCK = 0x46500001  # arbitrary constant: the registry's advisory lock key
_SUPERSEDED = ("status", "status_changed_at", "status_reason", "superseded_by")  # what superseding sets
_STATUS_COLUMNS = ("status", "status_changed_at", "status_reason", "revoked_at", "revocation_reason", "superseded_by")


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
    self_declared: bool = False
    review: dict | None = None  # the approving decision: entry seq/hash, reviewer id, name, organisation, ...
    backdated: bool = False


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
    signer: str | None = None
    signer_fingerprint: str | None = None  # SHA-256 of the signing certificate (DER)
    signature_level: str | None = None
    self_declared: bool | None = None
    review: dict | None = None
    backdated: bool | None = None
    pdf_history: list[str] | None = None  # earlier files of this certificate (before a newer document timestamp)
    file_name: str | None = None  # the name it was issued under (recovery publishes a pending file to it)
    scheme: str | None = None
    surveillance_due: str | None = None

    def files(self) -> set[str]:
        """SHA-256 of every file of this certificate the registry knows: the current one and earlier ones."""
        return {self.pdf_sha256, *(self.pdf_history or [])}

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


def as_utc(t: dt.datetime | None) -> dt.datetime | None:
    """A time read from the database as aware UTC (SQLite gives naive UTC, PostgreSQL aware)."""
    if t is None:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _iso(t: dt.datetime | None) -> str | None:
    t = as_utc(t)
    return t.isoformat(timespec="seconds") if t else None


def _parse_time(s: str) -> dt.datetime:
    return as_utc(dt.datetime.fromisoformat(s))  # type: ignore[return-value]


def _record(c: Certificate | _NewRow) -> Record:
    return Record(
        number=c.number, park=c.park, product_id=c.product_id, product_name=c.product_name, holder=c.holder,
        unit=c.unit, total=c.total, fossil=c.fossil, biogenic=c.biogenic, luc=c.luc, data_sha256=c.data_sha256,
        pdf_sha256=c.pdf_sha256, issued_at=_iso(c.issued_at), valid_from=_iso(c.valid_from),  # type: ignore[arg-type]
        valid_until=_iso(c.valid_until), status=c.status, status_reason=c.status_reason,  # type: ignore[arg-type]
        revoked_at=_iso(c.revoked_at), revocation_reason=c.revocation_reason, supersedes=c.supersedes,
        superseded_by=c.superseded_by, demo=c.demo, signer=c.signer, signer_fingerprint=c.signer_fingerprint,
        signature_level=c.signature_level, self_declared=bool(c.self_declared),
        review=json.loads(c.review) if c.review else None, backdated=bool(c.backdated),
        pdf_history=json.loads(c.pdf_history or "[]"), file_name=c.file_name, scheme=c.scheme,
        surveillance_due=_iso(c.surveillance_due),
    )


def _value(v: object) -> object:
    """A column value as the audit log writes it (times as UTC ISO 8601 with microseconds)."""
    return audit.timestamp(as_utc(v)) if isinstance(v, dt.datetime) else v


def _columns(c: Certificate | _NewRow) -> dict:
    """Every column but the surrogate id: what an ``issue`` entry holds and replay compares."""
    return {name: _value(v) if isinstance(v := getattr(c, name), dt.datetime) else v for name in _CERTIFICATE_COLUMNS}


def _process() -> dict:
    """Who holds a reservation: enough to tell later whether that process is still running."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, **_since(pid)}


@functools.cache
def _since(pid: int) -> dict:
    """The boot and start time of process ``pid`` (this one; a forked child has another pid), read once."""
    return {"boot": _boot_id(), "started": _start_ticks(pid)}


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (tells a reused pid from the original)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(holder: dict, at: str, now: dt.datetime) -> bool:
    """Whether the process that reserved a number may still be issuing it."""
    if holder.get("host") != socket.gethostname():
        return now - _parse_time(at) < STALE_AFTER
    if holder.get("boot") and holder.get("boot") != _boot_id():
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    started = _start_ticks(pid)
    return started is not None and started == holder.get("started")


@dataclass(frozen=True)
class Pending:
    """A reserved number with neither an ``issue`` nor a ``void`` entry."""

    number: str
    reserved_at: str
    holder: dict
    out_dir: str | None
    alive: bool


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

    def __init__(self, url: str, home: Path | None = None):
        from footprint.engine import home as data_home

        self.url = url
        self.home = Path(home) if home else data_home.resolve()
        self.witness = seal.witness_path(self.home, _normalise(url))
        self._seal: seal.Seal | None = None
        self.engine = _engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reading = self.engine.execution_options(footprint_read=True)  # BEGIN without the write lock (SQLite)
        self._readers = sessionmaker(self._reading, expire_on_commit=False)
        self._upgrade()

    @classmethod
    def open(cls, home: Path, url: str | None = None) -> Registry:
        """The registry of a data directory (or the given URL), created or upgraded as needed."""
        return cls(url or default_url(home), home)

    def close(self) -> None:
        if "_lookup" in self.__dict__:
            self._lookup.close()
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
        """One transaction holding the registry's write lock; commits on success, rolls back on error.

        The session carries the registry key (``audit.append`` signs with it); after the commit the
        newest entry is noted in the data directory's witness.
        """
        with self._sessions.begin() as session:
            if self.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            session.info["seal"] = self._seal_for_writing(session)
            yield session
            head = session.info.get("audit_head")
        if head:
            seal.witness(self.witness, *head)

    def _seal_for_writing(self, session: Session) -> seal.Seal:
        """The registry key; made with the first entry of a new log. An unsigned (pre-key) log is sealed first:
        a ``seal`` entry signs the chain so far and a snapshot of every audited table."""
        if self._seal is None:
            last = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
            signed = session.execute(select(AuditEntry.seq).where(AuditEntry.signature.is_not(None)).limit(1)).first()
            key = seal.load(self.home, create=not signed)
            if key is None:
                raise seal.SealError(f"the registry's audit key {seal.key_path(self.home)} is missing, but the log "
                                     "holds entries signed with it: restore the key (or set "
                                     f"{seal.KEY_ENV}); nothing can be recorded without it")
            session.info["seal"] = key
            if last is not None and last.signature is None:
                audit.append(session, "seal", "registry", {"key": key.fingerprint, "unsigned_entries": last.seq,
                                                           "tables": audit.snapshot(session)})
            self._seal = key
        return self._seal

    def seal(self) -> seal.Seal | None:
        """The registry key for checking (None when this data directory does not have it)."""
        return self._seal or seal.load_for_checking(self.home)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot (no write lock)."""
        with self._readers() as session:
            yield session
            session.rollback()

    # ---- issuing ---------------------------------------------------------------------------

    def reserve(self, park: str, year: int | None = None, prefix: str = "FP", out_dir: Path | None = None
                ) -> Reservation:
        """Hand out the next number of a park and year (committed at once, never handed out again).

        The ``reserve`` entry names this process and the folder the file will be written to, so a
        recovery can tell an abandoned reservation from one still being issued, and find its file.
        """
        year = year or _now().year
        with self.write() as s:
            conn = s.connection()
            seq = conn.execute(_NEXT_SEQUENCE, {"counter_park": park, "counter_year": year}).scalar()
            if seq is None:
                conn.execute(_FIRST_SEQUENCE, {"park": park, "year": year, "last": 1})
                seq = 1
            number = format_number(park, year, seq, prefix)
            audit.append(s, "reserve", number, {"park": park, "year": year, "sequence": seq, "process": _process(),
                                                "out_dir": str(Path(out_dir).resolve()) if out_dir else None})
        return Reservation(number, park, year, seq)

    def record(self, reservation: Reservation, cert: NewCertificate, at: dt.datetime | None = None,
               copy: bytes | None = None) -> Record:
        """Record an issued certificate; an active one for the same product becomes ``superseded``.

        ``copy`` is the signed PDF: the registry's own copy, stored in the same transaction
        (:mod:`footprint.registry.copies`). Refused: a validity that ends before the moment of
        recording (a certificate expired at issue), and a number that was voided or already recorded.
        """
        at = as_utc(at) or _now()
        if as_utc(cert.valid_until) < at:  # type: ignore[operator]
            raise RegistryError(f"{reservation.number}: validity ends {_iso(cert.valid_until)}, before its issue "
                                f"({_iso(at)}); a certificate cannot be expired when issued")
        if as_utc(cert.valid_from) > as_utc(cert.valid_until):  # type: ignore[operator]
            raise RegistryError(f"{reservation.number}: validity starts after it ends")
        fields = asdict(cert)
        fields["review"] = json.dumps(cert.review, sort_keys=True) if cert.review else None
        number = reservation.number
        with self.write() as s:
            conn = s.connection()
            recorded, voided = conn.execute(_RECORDED_OR_VOIDED, {"number": number}).one()
            if recorded:
                raise RegistryError(f"{number} is already recorded")
            if voided:
                raise RegistryError(f"{number} was voided (its issue was abandoned); it cannot be issued")
            previous = conn.execute(_CURRENT, {"park": reservation.park, "product_id": cert.product_id}).all()
            row = _NewRow(**{
                **dict.fromkeys(_CERTIFICATE_COLUMNS), **fields, "number": number, "park": reservation.park,
                "year": reservation.year, "sequence": reservation.sequence, "issued_at": at, "status": "active",
                "status_changed_at": at, "supersedes": previous[-1].number if previous else None, "pdf_history": "[]"})
            conn.execute(_INSERT_CERTIFICATE, vars(row))
            if copy is not None:
                from footprint.registry import copies

                copies.add(s, number, copy, cert.pdf_sha256)
            audit.append(s, "issue", number, {"row": _columns(row)}, at)
            for old in previous:
                changed = {"status": "superseded", "status_changed_at": at, "status_reason": f"superseded by {number}",
                           "superseded_by": number}
                conn.execute(_SUPERSEDE, {"row_id": old.id, **{f"new_{k}": v for k, v in changed.items()}})
                audit.append(s, "supersede", old.number, {"by": number, "set": _status_columns(
                    _NewRow(**{**old._asdict(), **changed}))}, at)
            return _record(row)

    def void(self, number: str, reason: str) -> None:
        """Note in the audit log that a reserved number will never be issued (its issue failed)."""
        with self.write() as s:
            if s.execute(select(Certificate.id).where(Certificate.number == _key(number))).first():
                raise RegistryError(f"{number} is issued; it cannot be voided (revoke it instead)")
            audit.append(s, "void", _key(number), {"reason": reason})

    def pending(self, now: dt.datetime | None = None) -> list[Pending]:
        """Reserved numbers with neither an issue nor a void entry, and whether their process may still run."""
        now = now or _now()
        with self.read() as s:
            done = set(s.execute(select(AuditEntry.subject).where(AuditEntry.action.in_(("issue", "void")))).scalars())
            found = []
            for e in s.execute(select(AuditEntry).where(AuditEntry.action == "reserve").order_by(AuditEntry.seq)
                               ).scalars():
                if e.subject in done:
                    continue
                detail = json.loads(e.detail)
                holder = detail.get("process") or {}
                found.append(Pending(e.subject, e.at, holder, detail.get("out_dir"), _alive(holder, e.at, now)))
        return found

    def reservations(self) -> dict[str, str | None]:
        """Number → folder its file was to be written to, for every reservation (recovery looks there)."""
        with self.read() as s:
            return {e.subject: json.loads(e.detail).get("out_dir") for e in s.execute(
                select(AuditEntry).where(AuditEntry.action == "reserve")).scalars()}

    def recover(self, now: dt.datetime | None = None) -> list[Pending]:
        """Void every reservation whose process is gone (killed, crashed, power cut); returns them."""
        voided = []
        for p in self.pending(now):
            if p.alive:
                continue
            holder = f"process {p.holder.get('pid')} on {p.holder.get('host')}"
            try:
                self.void(p.number, f"recovered: {holder} reserved it at {p.reserved_at} and ended without "
                                    "issuing it")
            except RegistryError:
                continue  # issued meanwhile
            voided.append(p)
        return voided

    def add_file(self, number: str, pdf_sha256: str, signature_level: str, reason: str) -> Record:
        """Record a newer file of a certificate (a document timestamp added); the earlier ones stay valid."""
        with self.write() as s:
            row = s.execute(select(Certificate).where(Certificate.number == _key(number))).scalar_one_or_none()
            if row is None:
                raise RegistryError(f"no certificate {number} in this registry")
            history = json.loads(row.pdf_history or "[]")
            if pdf_sha256 != row.pdf_sha256 and row.pdf_sha256 not in history:
                history.append(row.pdf_sha256)
            row.pdf_history, row.pdf_sha256, row.signature_level = json.dumps(history), pdf_sha256, signature_level
            s.flush()
            audit.append(s, "add-file", row.number, {"reason": reason, "set": {
                "pdf_sha256": pdf_sha256, "pdf_history": row.pdf_history, "signature_level": signature_level}})
            return _record(row)

    # ---- status ----------------------------------------------------------------------------

    def _change(self, number: str, action: str, allowed: tuple[str, ...], status: str, reason: str,
                at: dt.datetime | None, by: str | None = None) -> Record:
        parse_number(number)
        at = as_utc(at) or _now()
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
            s.flush()
            audit.append(s, action, row.number, {"reason": reason, "from": before, "set": _status_columns(row),
                                                 **({"by": by} if by else {})}, at)
            return _record(row)

    def record_surveillance(self, number: str, passed: bool, by: str, note: str,
                            at: dt.datetime | None = None, recorded_by: str | None = None) -> Record:
        """Record a surveillance under the certificate's scheme: a pass keeps it active and sets the
        next due date (none when the certificate ends first); a fail suspends it. ``recorded_by``: the
        account that entered it (the web pages' user), besides ``by``, who carried it out."""
        from footprint.registry.schemes import SCHEMES, surveillance_due

        parse_number(number)
        at = as_utc(at) or _now()
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
            due = as_utc(row.surveillance_due)
            following = surveillance_due(SCHEMES[row.scheme], due.date(), as_utc(row.valid_until).date()) \
                if passed else None
            if passed:
                row.surveillance_due = dt.datetime.combine(following, dt.time(0), tzinfo=dt.UTC) if following else None
            s.flush()
            audit.append(s, "surveillance", row.number, {
                "result": "pass" if passed else "fail", "by": by, "note": note, "due": _iso(due),
                "next_due": following.isoformat() if following else None, "scheme": row.scheme,
                "set": {"surveillance_due": _value(row.surveillance_due)},
                **({"recorded_by": recorded_by} if recorded_by else {})}, at)
            if not passed:
                row.status, row.status_changed_at = "suspended", at
                row.status_reason = f"surveillance failed: {note}"
                s.flush()
                audit.append(s, "suspend", row.number, {"reason": row.status_reason, "from": "active",
                                                        "set": _status_columns(row),
                                                        **({"by": recorded_by} if recorded_by else {})}, at)
            return _record(row)

    def due(self, within_days: int = 0, now: dt.datetime | None = None) -> list[Record]:
        """Active certificates whose surveillance is due within ``within_days`` or overdue, soonest first."""
        limit = (now or _now()) + dt.timedelta(days=within_days)
        with self.read() as s:
            rows = s.execute(select(Certificate).where(Certificate.status == "active",
                                                       Certificate.surveillance_due.is_not(None))
                             .order_by(Certificate.surveillance_due, Certificate.id)).scalars()
            return [_record(c) for c in rows if as_utc(c.surveillance_due) <= limit]

    def footprint_json(self, number: str) -> str | None:
        """The PACT ProductFootprint embedded in the certificate as issued (None for older certificates)."""
        with self.read() as s:
            return s.execute(select(Certificate.pact_json).where(Certificate.number == _key(number))).scalar()

    def predecessors(self, park: str, product_id: str) -> list[str]:
        """Numbers of every certificate of the product a new one would follow, newest first: the current
        active or suspended one, then the ones it superseded in turn."""
        with self.read() as s:
            rows = {c.number: (c.id, c.status, c.supersedes)
                    for c in s.connection().execute(_OF_PRODUCT, {"park": park, "product_id": product_id})}
        current = [(row[0], n) for n, row in rows.items() if row[1] in ("active", "suspended")]
        chain: list[str] = []
        number = max(current)[1] if current else None
        while number and number in rows and number not in chain:
            chain.append(number)
            number = rows[number][2]
        return chain

    def revoke(self, number: str, reason: str, at: dt.datetime | None = None, by: str | None = None) -> Record:
        """Withdraw a certificate for good (the accreditation world's word for revoking); ``by``: the account
        that did it, recorded in the audit entry (the web pages' user)."""
        return self._change(number, "revoke", ("active", "suspended", "superseded"), "withdrawn", reason, at, by)

    def suspend(self, number: str, reason: str, at: dt.datetime | None = None, by: str | None = None) -> Record:
        return self._change(number, "suspend", ("active",), "suspended", reason, at, by)

    def reinstate(self, number: str, reason: str, at: dt.datetime | None = None, by: str | None = None) -> Record:
        return self._change(number, "reinstate", ("suspended",), "active", reason, at, by)

    # ---- reading ---------------------------------------------------------------------------

    def get(self, number: str) -> Record | None:
        with self.read() as s:
            row = s.execute(select(Certificate).where(Certificate.number == _key(number))).scalar_one_or_none()
            return _record(row) if row else None

    def records(self) -> list[Record]:
        with self.read() as s:
            return [_record(c) for c in s.execute(select(Certificate).order_by(Certificate.id)).scalars()]

    def audit_report(self, anchors: list[tuple[int, str, str]] | tuple = ()) -> audit.ChainReport:
        """The whole log checked: links, signatures, the witnessed head, ``anchors``, and every table replayed."""
        with self.read() as s:
            return audit.verify(s, self.seal(), seal.witnessed(self.witness), anchors)

    def checked(self, number: str) -> tuple[Record | None, list[str]]:
        """A certificate's record and what is wrong with it against the signed log (empty when nothing).

        Cheaper than :meth:`audit_report`: the certificate's own entries are checked (signed, linked)
        and replayed against its row, the log for gaps, and its head against the witness. The witness
        is read first (it is written after its entry's commit, so the database read next holds that
        entry); then one statement on a plain cursor (:class:`_Lookup`) returns the row, the entries,
        the hash before each and the log's size, newest number and witnessed hash — one statement is
        one snapshot on SQLite and PostgreSQL alike, so no transaction is opened around it.
        """
        key = _key(number)
        checking = self.seal()
        witnessed = seal.witnessed(self.witness)
        size, newest, held, row, entries, befores = self._lookup.run(key, witnessed)
        problems = audit.entry_problems(size, newest, witnessed, held, entries, befores, checking)
        state = audit.replay([audit.parse(e) for e in entries])
        expected = state.rows("certificates").get(key)
        live = {key: _columns(row)} if row is not None else {}
        problems += audit.compare(state, {"certificates": live}) if expected or row is not None else []
        return (_record(row) if row else None), problems

    @functools.cached_property
    def _lookup(self) -> _Lookup:
        return _Lookup(self.engine)

    def export_payload(self, now: dt.datetime | None = None) -> dict:
        """Every issued certificate with its status, and the log head it was read at: what a buyer
        needs to verify offline. Refused when the audit log does not verify."""
        with self.read() as s:
            report = audit.verify(s, self.seal(), seal.witnessed(self.witness))
            if not report.ok:
                raise RegistryError("the audit log does not verify; no export is signed from a tampered registry: "
                                    + "; ".join(report.problems[:3]))
            records = [asdict(_record(c)) for c in s.execute(select(Certificate).order_by(Certificate.id)).scalars()]
        return {"format": EXPORT_FORMAT, "generated_at": audit.timestamp(now), "audit_head": report.head,
                "audit_entries": report.entries, "registry_key": report.key, "certificates": records}


_CERTIFICATES, _COUNTERS, _LOG = Certificate.__table__, Counter.__table__, AuditEntry.__table__
# the statements issuing runs for every certificate, built once (Core: no ORM objects, flushes or per-call
# statement building; tests/test_registry_core.py compares what they write with the ORM path's)
_CERTIFICATE = select(_CERTIFICATES).where(_CERTIFICATES.c.number == bindparam("number"))
_CERTIFICATE_COLUMNS = [c.name for c in _CERTIFICATES.columns if c.name != "id"]
_NEXT_SEQUENCE = (update(_COUNTERS).where(_COUNTERS.c.park == bindparam("counter_park"),
                                          _COUNTERS.c.year == bindparam("counter_year"))
                  .values(last=_COUNTERS.c.last + 1).returning(_COUNTERS.c.last))
_FIRST_SEQUENCE = insert(_COUNTERS)
_RECORDED_OR_VOIDED = select(
    select(_CERTIFICATES.c.id).where(_CERTIFICATES.c.number == bindparam("number")).exists(),
    select(_LOG.c.seq).where(_LOG.c.subject == bindparam("number"), _LOG.c.action == "void").exists())
_OF_PRODUCT = select(_CERTIFICATES.c.id, _CERTIFICATES.c.number, _CERTIFICATES.c.status, _CERTIFICATES.c.supersedes
                     ).where(_CERTIFICATES.c.park == bindparam("park"),
                             _CERTIFICATES.c.product_id == bindparam("product_id"))
_CURRENT = (select(_CERTIFICATES.c.id, _CERTIFICATES.c.number, *(_CERTIFICATES.c[k] for k in _STATUS_COLUMNS))
            .where(_CERTIFICATES.c.park == bindparam("park"), _CERTIFICATES.c.product_id == bindparam("product_id"),
                   _CERTIFICATES.c.status.in_(("active", "suspended"))))
_INSERT_CERTIFICATE = insert(_CERTIFICATES)
_SUPERSEDE = (update(_CERTIFICATES).where(_CERTIFICATES.c.id == bindparam("row_id"))
              .values({k: bindparam(f"new_{k}") for k in _SUPERSEDED}))


_ENTRY, _BEFORE = _LOG.alias("entry"), _LOG.alias("before")
_EXTENT_COLUMNS = 5  # first (a marker), size, newest, held, snapshot


def _checked(dialect: str) -> CompoundSelect:
    """What :meth:`Registry.checked` reads, in one statement: a first row with the log's extent (size, newest
    number, the hash at the witnessed number, on PostgreSQL the statement's snapshot) and the certificate's
    columns (NULL when there is none), then a row per entry of the certificate with the hash of the entry
    before it — in no order (SQLite would sort the rows, PACT JSON and all, to give one).

    PostgreSQL counts a log by reading every entry of an index (14 ms at 100,000 entries): there the count is
    left out when the statement's snapshot is the one of the lookup that counted last (``:counted_in``).
    Transactions see the same rows when their snapshots are equal (the same transactions committed, the same
    in progress), so the log has the count that lookup found; any commit anywhere in between changes it.
    """
    if dialect == "postgresql":
        snapshot = cast(func.pg_current_snapshot(), Text)
        size = case((snapshot == bindparam("counted_in"), null()), else_=audit.LOG_SIZE)
    else:
        snapshot, size = null(), audit.LOG_SIZE  # SQLite counts the pages of ix_audit_log_seq: 0.03 ms at 100,000
    extent = select(literal_column("1").label("first"), size.label("size"), audit.LOG_NEWEST.label("newest"),
                    select(_LOG.c.hash).where(_LOG.c.seq == bindparam("witnessed")).scalar_subquery().label("held"),
                    snapshot.label("snapshot")).subquery("extent")
    return union_all(
        select(extent, *_CERTIFICATES.columns, *(null() for _ in range(len(_LOG.columns) + 1)))
        .select_from(extent.outerjoin(_CERTIFICATES, _CERTIFICATES.c.number == bindparam("number"))),
        select(*(null() for _ in range(len(extent.columns) + len(_CERTIFICATES.columns))), *_ENTRY.columns,
               _BEFORE.c.hash)
        .select_from(_ENTRY.outerjoin(_BEFORE, _BEFORE.c.seq == _ENTRY.c.seq - 1))
        .where(_ENTRY.c.subject == bindparam("number")))


class _Lookup:
    """:func:`_checked` compiled once for a dialect and run on a plain DB-API cursor: no SQLAlchemy
    result objects, the certificate's columns converted by the same result processors SQLAlchemy applies
    (SQLite's text times to datetimes, its integers to booleans).

    On PostgreSQL it has a pool of its own, without the registry engine's ping at every checkout (a round
    trip before each lookup): a connection found broken when the statement runs is dropped and the
    statement run once more on a new one — what the ping would have done first.
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = _checked(dialect.name).compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None
        self.constants = compiled.params  # the bound literals (the 1 of ``seq - 1``); the two parameters are None
        self.dialect = dialect
        self.engine = engine if dialect.name == "sqlite" else create_engine(engine.url, pool_pre_ping=False)
        self.own = self.engine is not engine
        self.names = [c.name for c in _CERTIFICATES.columns]
        self.processors: list | None = None  # from the driver's column types (psycopg's), at the first run
        self.row_end = _EXTENT_COLUMNS + len(self.names)
        self.counted: tuple[str | None, int] = (None, 0)  # (snapshot, log size) of the last count (PostgreSQL)

    def close(self) -> None:
        if self.own:
            self.engine.dispose()

    def run(self, number: str, witnessed: tuple[int, str] | None) -> tuple:
        """(log size, newest number, hash at the witnessed number, the row or None, the entries, the hash
        before each entry numbered above 1)."""
        counted_in, count = self.counted
        params = {**self.constants, "number": number, "witnessed": witnessed[0] if witnessed else -1,
                  "counted_in": counted_in}
        rows = self._rows(params, retry=self.own)
        if rows is None:  # the pooled connection was broken (the server restarted): once more, on a new one
            rows = self._rows(params, retry=False)
        first = next(r for r in rows if r[0] is not None)  # the extent's row
        logged = [r for r in rows if r[0] is None]
        _, size, newest, held, snapshot = first[:_EXTENT_COLUMNS]
        if size is None:  # not counted: the snapshot is the last count's
            size = count
        elif snapshot is not None:
            self.counted = snapshot, size
        row = None
        if first[_EXTENT_COLUMNS] is not None:  # the certificate's id
            values = first[_EXTENT_COLUMNS:self.row_end]
            row = _NewRow(**{name: (p(v) if p else v) for name, p, v in zip(self.names, self.processors, values,
                                                                             strict=True)})
        logged.sort(key=lambda r: r[self.row_end])
        entries = [audit.LogRow(*r[self.row_end:-1]) for r in logged]
        befores = [r[-1] for r in logged if r[self.row_end] > 1]
        return size, newest, held, row, entries, befores

    def _rows(self, params: dict, retry: bool) -> list | None:
        """The statement's rows; None when ``retry`` and the connection turned out broken (then dropped)."""
        connection = self.engine.raw_connection()
        driver = connection.driver_connection
        # psycopg outside autocommit sends BEGIN before the statement and ROLLBACK when the pool takes the
        # connection back: two round trips for nothing around one statement (sqlite3 here is in autocommit)
        plain = getattr(driver, "autocommit", None) is False
        cursor = None
        try:
            if plain:
                driver.autocommit = True
            cursor = connection.cursor()
            cursor.execute(self.sql, tuple(params[k] for k in self.order) if self.order is not None else params)
            rows = cursor.fetchall()
            if self.processors is None:
                self.processors = [c.type.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                                   for c, d in zip(_CERTIFICATES.columns,
                                                   cursor.description[_EXTENT_COLUMNS:self.row_end],
                                                   strict=True)]
            cursor.close()
        except self.dialect.loaded_dbapi.Error as e:
            if not (retry and self.dialect.is_disconnect(e, driver, cursor)):
                raise
            connection.invalidate()
            return None
        finally:
            if plain and not driver.closed:
                driver.autocommit = False
            connection.close()  # back to the pool (rolled back, when a transaction is open)
        return rows


class _NewRow(SimpleNamespace):
    """A row the registry writes or read with Core, as ``_columns``/``_record`` read an ORM object: by attribute."""


def _status_columns(c: Certificate | _NewRow) -> dict:
    return {k: _value(getattr(c, k)) for k in _STATUS_COLUMNS}


# ---- replay: the tables as the audit log says they must be ---------------------------------


@audit.replays("issue")
def _replay_issue(state: audit.State, entry: audit.Entry) -> None:
    audit.row_created("certificates", state, entry)


@audit.replays("supersede", "revoke", "suspend", "reinstate", "add-file", "surveillance")
def _replay_change(state: audit.State, entry: audit.Entry) -> None:
    audit.row_changed("certificates", state, entry)


@audit.replays("reserve")
def _replay_reserve(state: audit.State, entry: audit.Entry) -> None:
    key = f"{entry.detail.get('park')}/{entry.detail.get('year')}"
    counters = state.rows("counters")
    counters[key] = {"last": max(counters.get(key, {}).get("last", 0), entry.detail.get("sequence", 0))}


@audit.reads("certificates")
def _certificate_rows(session: Session) -> dict[str, dict]:
    return {c.number: _columns(c) for c in session.execute(select(Certificate)).scalars()}


@audit.reads("counters")
def _counter_rows(session: Session) -> dict[str, dict]:
    return {f"{c.park}/{c.year}": {"last": c.last} for c in session.execute(select(Counter)).scalars()}


def record_from_dict(d: dict) -> Record:
    return Record(**{k: d.get(k) for k in Record.__dataclass_fields__})  # type: ignore[arg-type]


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_export(registry: Registry, key, now: dt.datetime | None = None) -> tuple[dict, bytes]:  # noqa: ANN001
    """The signed JSON export ``{"payload": {...}, "signature": base64 CMS}``: (payload, file bytes)."""
    import base64

    from footprint.certificates.signing import sign_detached

    payload = registry.export_payload(now)
    payload["signer"], payload["issuer_key"] = key.holder, key.key_id
    doc = {"payload": payload, "signature": base64.b64encode(sign_detached(canonical(payload), key)).decode()}
    return payload, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def write_export(registry: Registry, key, path: Path, now: dt.datetime | None = None) -> dict:  # noqa: ANN001
    """Write the signed JSON export (:func:`signed_export`); returns the payload."""
    payload, data = signed_export(registry, key, now)
    write_atomic(path, data)
    return payload


def read_export(path: Path, roots: list) -> tuple[dict, str]:
    """(payload, signer) of a signed export; ``ValueError`` if it is not one, not signed by a trusted key, or
    signed by another key than the one it states as its issuer's."""
    import base64

    from footprint.certificates.signing import verify_detached

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        payload, signature = doc["payload"], base64.b64decode(doc["signature"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a footprint registry export ({e})") from None
    if not isinstance(payload, dict) or payload.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{path}: not a {EXPORT_FORMAT} document")
    signer, signer_key = verify_detached(canonical(payload), signature, roots)
    if payload.get("issuer_key") != signer_key:
        raise ValueError(f"{path}: signed by {signer} with key {signer_key[:16]}…, but it states issuer key "
                         f"{str(payload.get('issuer_key'))[:16]}…")
    return payload, signer
