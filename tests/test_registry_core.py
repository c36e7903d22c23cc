"""Issuing's registry writes in prebuilt Core statements write exactly what the ORM path wrote.

``Registry.reserve``, ``record``, ``predecessors``, ``copies.add`` and ``audit.append`` were ORM objects,
queries built per call and flushes (≈ 15 ms CPU of a certificate's ≈ 110, issue 17). The ORM path is kept
here as the reference (the code of main at 38976df); the same story — issues, supersessions of an active
and of a suspended certificate, a void, refusals — runs through both under one clock and one registry key,
and every table (certificates with their ids, counters, copies, the whole audit log with hashes and
Ed25519 signatures, which are deterministic) must come out identical, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update
from test_registry import _postgres_url

from footprint.certificates import issuing
from footprint.registry import audit, records
from footprint.registry.records import NewCertificate, Registry, RegistryError, Reservation
from footprint.registry.schema import AuditEntry, Certificate, CertificateCopy, Counter

CLOCK = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
TABLES = ["certificates", "counters", "certificate_copies", "audit_log"]


# ---- the reference: the ORM path as it was ------------------------------------------------------------


def orm_append(session, action, subject, detail=None, at=None):  # noqa: ANN001, ANN201
    seal_ = session.info.get("seal")
    if seal_ is None:
        raise RuntimeError("audit entries are written only inside Registry.write() (it holds the registry key)")
    head = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
    seq = head.seq + 1 if head else 1
    prev = head.hash if head else audit.GENESIS
    when = audit.timestamp(at)
    body = audit._canonical(detail or {}).decode()
    digest = audit.entry_hash(seq, when, action, subject, body, prev)
    entry = AuditEntry(seq=seq, at=when, action=action, subject=subject, detail=body, prev_hash=prev, hash=digest,
                       signature=seal_.sign(digest))
    session.add(entry)
    session.flush()
    session.info["audit_head"] = (seq, digest)
    return entry


class OrmRegistry(Registry):
    """``reserve``, ``record`` and ``predecessors`` through ORM objects (main at 38976df)."""

    def reserve(self, park, year=None, prefix="FP", out_dir=None):  # noqa: ANN001, ANN201
        year = year or records._now().year
        with self.write() as s:
            row = s.get(Counter, (park, year))
            if row is None:
                s.execute(insert(Counter).values(park=park, year=year, last=1))
                seq = 1
            else:
                seq = s.execute(update(Counter).where(Counter.park == park, Counter.year == year)
                                .values(last=Counter.last + 1).returning(Counter.last)).scalar_one()
            number = records.format_number(park, year, seq, prefix)
            audit.append(s, "reserve", number, {"park": park, "year": year, "sequence": seq,
                                                "process": records._process(),
                                                "out_dir": str(Path(out_dir).resolve()) if out_dir else None})
        return Reservation(number, park, year, seq)

    def record(self, reservation, cert, at=None, copy=None):  # noqa: ANN001, ANN201
        at = records.as_utc(at) or records._now()
        fields = asdict(cert)
        fields["review"] = json.dumps(cert.review, sort_keys=True) if cert.review else None
        with self.write() as s:
            if s.execute(select(Certificate.id).where(Certificate.number == reservation.number)).first():
                raise RegistryError(f"{reservation.number} is already recorded")
            if s.execute(select(AuditEntry.seq).where(AuditEntry.subject == reservation.number,
                                                      AuditEntry.action == "void")).first():
                raise RegistryError(f"{reservation.number} was voided (its issue was abandoned); it cannot be issued")
            previous = s.execute(select(Certificate).where(
                Certificate.park == reservation.park, Certificate.product_id == cert.product_id,
                Certificate.status.in_(("active", "suspended")))).scalars().all()
            row = Certificate(number=reservation.number, park=reservation.park, year=reservation.year,
                              sequence=reservation.sequence, issued_at=at, status="active", status_changed_at=at,
                              supersedes=previous[-1].number if previous else None, pdf_history="[]", **fields)
            s.add(row)
            if copy is not None:
                assert hashlib.sha256(copy).hexdigest() == cert.pdf_sha256
                s.add(CertificateCopy(number=reservation.number, pdf=copy))
            s.flush()
            audit.append(s, "issue", reservation.number, {"row": records._columns(row)}, at)
            for old in previous:
                old.status, old.status_changed_at = "superseded", at
                old.status_reason, old.superseded_by = f"superseded by {reservation.number}", reservation.number
                s.flush()
                audit.append(s, "supersede", old.number, {"by": reservation.number,
                                                          "set": records._status_columns(old)}, at)
            return records._record(row)

    def predecessors(self, park, product_id):  # noqa: ANN001, ANN201
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


# ---- one story through either path ---------------------------------------------------------------------


def _certificate(product: str, n: int, **extra: object) -> tuple[NewCertificate, bytes]:
    pdf = f"%PDF-1.7 certificate {product} {n} 证书".encode() * 50
    return NewCertificate(
        product_id=product, product_name=f"铝合金型材 {product}", holder="Jiangsu Demo Co., Ltd.", unit="kg",
        total=12.5 + n, fossil=11.0 + n, biogenic=0.0, luc=1.5, data_sha256=hashlib.sha256(pdf[:40]).hexdigest(),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(), file_name=f"{product}_{n}.pdf", signer="Demo Certification Body",
        signer_fingerprint="ab" * 32, signature_level="B-B", demo=True,
        valid_from=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), valid_until=dt.datetime(2029, 2, 28, 23, 59, 59,
                                                                                   tzinfo=dt.UTC),
        holder_id="91320902MA1X", facility="Plant 1", primary_data_share=0.25 * (n % 4), period_start="2025-01-01",
        period_end="2025-12-31", scheme="pact", pact_json=json.dumps({"id": n, "产品": product}), **extra), pdf


def _story(registry: Registry, out: Path) -> list[object]:
    """Everything issuing does to a registry, and what each call returned (or the error it raised)."""
    said: list[object] = []
    numbers: dict[str, list[str]] = {}

    def issue(product: str, n: int, **extra: object) -> Reservation:
        reservation = registry.reserve("demo-park", 2026, "DEMO-PCF", out)
        said.append(reservation)
        said.append(registry.predecessors("demo-park", product))
        cert, pdf = _certificate(product, n, **extra)
        said.append(registry.record(reservation, cert, at=CLOCK + dt.timedelta(seconds=n), copy=pdf))
        numbers.setdefault(product, []).append(reservation.number)
        return reservation

    issue("al-profile", 1)
    issue("billet", 2, self_declared=True, backdated=True)
    issue("al-profile", 3)  # supersedes an active certificate
    registry.suspend(numbers["billet"][0], "surveillance audit pending", at=CLOCK)
    issue("billet", 4, review={"reviewer": "r1", "entry": {"seq": 7, "hash": "c" * 64}, "组织": "审核机构"},
          surveillance_due=dt.datetime(2027, 3, 1, tzinfo=dt.UTC))  # supersedes a suspended one
    voided = registry.reserve("demo-park", 2026, "DEMO-PCF", None)
    registry.void(voided.number, "RuntimeError: the render failed")
    for reservation in (voided, Reservation(numbers["billet"][1], "demo-park", 2026, 4)):
        with pytest.raises(RegistryError) as refused:
            registry.record(reservation, _certificate("billet", 9)[0], at=CLOCK)
        said.append(str(refused.value))
    issue("al-profile", 5)
    issue("slab", 6)  # a new year's counter and product beside the others
    said.append(registry.reserve("other-park", 2027))
    said.append([registry.predecessors("demo-park", p) for p in ("al-profile", "billet", "slab", "none")])
    said.append(registry.records())
    return said


def _tables(registry: Registry) -> dict[str, list[dict]]:
    keys = {"certificates": "id", "counters": "park, year", "certificate_copies": "number", "audit_log": "seq"}
    with registry.engine.connect() as conn:
        return {t: [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY {keys[t]}"))]
                for t in TABLES}


def _run(url: str, reference: bool, monkeypatch, out: Path) -> tuple[list[object], dict[str, list[dict]]]:
    with monkeypatch.context() as m:
        original = audit.timestamp
        m.setattr(audit, "timestamp", lambda t=None: original(t or CLOCK))
        m.setattr(records, "_now", lambda: CLOCK)
        if reference:
            m.setattr(audit, "append", orm_append)
        with (OrmRegistry if reference else Registry)(url) as registry:
            said = _story(registry, out)
            report = registry.audit_report()
            assert report.ok, report.problems
            return said, _tables(registry)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_core_statements_write_what_the_orm_path_wrote(database, tmp_path, monkeypatch):
    def url(name: str) -> str:  # an empty database for each path
        return f"sqlite:///{tmp_path / name}.sqlite" if database == "sqlite" else _postgres_url()

    said_orm, orm = _run(url("orm"), True, monkeypatch, tmp_path / "out")
    said_core, core = _run(url("core"), False, monkeypatch, tmp_path / "out")
    assert said_core == said_orm
    for table in TABLES:
        assert core[table] == orm[table], table
    log = [json.loads(e["detail"]) | {"action": e["action"]} for e in core["audit_log"]]
    assert [e["action"] for e in log] == [
        "reserve", "issue", "reserve", "issue", "reserve", "issue", "supersede", "suspend", "reserve", "issue",
        "supersede", "reserve", "void", "reserve", "issue", "supersede", "reserve", "issue", "reserve"]
    assert [e["set"]["status"] for e in log if e["action"] == "supersede"] == ["superseded"] * 3
    assert [r["status"] for r in core["certificates"]] == ["superseded", "superseded", "superseded", "active",
                                                           "active", "active"]
    assert len(core["certificate_copies"]) == 6 and all(e["signature"] for e in core["audit_log"])


# ---- recovery lists each output folder once ----------------------------------------------------------


def recover_globbing_per_number(registry: Registry) -> issuing.Recovery:
    """``issuing.recover`` as it was (main at 38976df): every row read, and one glob per reserved number
    ever made — quadratic in the registry's size when the files share a folder."""
    voided = [p.number for p in registry.recover()]
    alive = {p.number for p in registry.pending() if p.alive}
    recorded = {r.number: r for r in registry.records()}
    published, removed = [], []
    for number, out_dir in registry.reservations().items():
        if number in alive or not out_dir or not Path(out_dir).is_dir():
            continue
        for pending in Path(out_dir).glob(f"*{number}*{issuing.PENDING}"):
            record = recorded.get(number)
            final = pending.with_name(pending.name[: -len(issuing.PENDING)])
            if record is not None and final.name == record.file_name and not final.exists() \
                    and hashlib.sha256(pending.read_bytes()).hexdigest() == record.pdf_sha256:
                issuing._publish(pending, final)
                published.append(final)
            elif record is None:
                pending.unlink()
                removed.append(pending)
    return issuing.Recovery(voided, published, removed)


def _killed_runs(base: Path, monkeypatch) -> Registry:  # noqa: ANN001
    """A registry and folders as killed runs leave them: recorded and unrecorded pending files in two
    folders, a published file, a pending file whose bytes are not the recorded ones, a stranger's file, a
    folder that is gone, and a reservation of this (live) process."""
    base.mkdir()
    registry = Registry(f"sqlite:///{base / 'registry.sqlite'}", base / "home")
    folders = [base / "out", base / "other"]
    dead = {"host": records.socket.gethostname(), "pid": 2**22 + 7, "boot": records._boot_id(), "started": 1}
    with monkeypatch.context() as m:
        m.setattr(records, "_process", lambda: dead)
        for n in range(12):
            folder = folders[n % 2] if n != 11 else base / "gone"  # a folder that is not there (any more)
            reservation = registry.reserve("demo-park", 2026, "DEMO-PCF", folder)
            name = f"p{n}_{reservation.number}.pdf"
            cert, pdf = _certificate(f"p{n}", n)
            cert = NewCertificate(**{**asdict(cert), "file_name": name})
            if n % 3 != 2:  # recorded (killed after the commit, before the file got its name)
                registry.record(reservation, cert, at=CLOCK, copy=pdf)
            if n == 11:
                continue
            folder.mkdir(exist_ok=True)
            (folder / (name + issuing.PENDING)).write_bytes(pdf if n != 4 else b"changed")
            if n == 7:
                (folder / name).write_bytes(pdf)  # already published: its pending copy stays
        (folders[0] / ("stranger.pdf" + issuing.PENDING)).write_bytes(b"not ours")
    registry.reserve("demo-park", 2026, "DEMO-PCF", folders[1])  # this process, alive: left alone
    (folders[1] / ("live_" + registry.pending()[-1].number + ".pdf" + issuing.PENDING)).write_bytes(b"rendering")
    return registry


def test_recovery_lists_each_folder_once_and_does_what_it_did(tmp_path, monkeypatch):
    done = {}
    for name, recover in (("globbing", recover_globbing_per_number), ("listing", issuing.recover)):
        with _killed_runs(tmp_path / name, monkeypatch) as registry:
            recovery = recover(registry)
            files = sorted(str(p.relative_to(tmp_path / name)) for p in (tmp_path / name).rglob("*.pdf*"))
            log = [(p.number[-8:], p.alive) for p in registry.pending()] + [
                (r.number, r.status) for r in registry.records()]
            done[name] = ([p.name for p in recovery.published], [p.name for p in recovery.removed],
                          recovery.voided, files, log)
    assert done["listing"] == done["globbing"]
    published, removed, voided, files, _ = done["listing"]
    assert len(published) == 6 and len(removed) == 3 and len(voided) == 4  # n = 0 1 3 6 9 10; 2 5 8; 2 5 8 11
    assert "out/stranger.pdf.pending" in files and "out/p4_" in " ".join(files)
