"""Hash-chained, append-only audit log of registry events.

Each entry's hash is the SHA-256 of its canonical JSON (sequence number, time, action, subject,
detail and the previous entry's hash), so editing an entry breaks its own hash, and deleting one
breaks the next entry's link or leaves a gap in the sequence. A deleted *last* entry would leave a
valid shorter chain, so :func:`verify` also checks the chain against the certificates table: every
certificate needs its ``issue`` entry and every withdrawn one its ``revoke`` entry.
Appends happen inside the registry's write transaction, which holds the registry's write lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from footprint.registry.schema import AuditEntry, Certificate

GENESIS = "0" * 64


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(seq: int, at: str, action: str, subject: str, detail: str, prev_hash: str) -> str:
    return hashlib.sha256(_canonical({"seq": seq, "at": at, "action": action, "subject": subject,
                                      "detail": detail, "prev": prev_hash})).hexdigest()


def append(session: Session, action: str, subject: str, detail: dict | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    """Add one entry after the current head; the caller's transaction must hold the write lock."""
    head = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
    seq = head.seq + 1 if head else 1
    prev = head.hash if head else GENESIS
    when = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="microseconds")
    text = _canonical(detail or {}).decode()
    entry = AuditEntry(seq=seq, at=when, action=action, subject=subject, detail=text, prev_hash=prev,
                       hash=entry_hash(seq, when, action, subject, text, prev))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> ChainReport:
    """Recompute every link; then check that each certificate's events are in the chain."""
    problems: list[str] = []
    prev, expected_seq, count = GENESIS, 1, 0
    issued: set[str] = set()
    revoked: set[str] = set()
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        count += 1
        if e.seq != expected_seq:
            problems.append(f"entries {expected_seq}–{e.seq - 1} are missing (deleted)")
        if e.prev_hash != prev:
            problems.append(f"entry {e.seq}: does not link to the entry before it (an entry was deleted or replaced)")
        if entry_hash(e.seq, e.at, e.action, e.subject, e.detail, e.prev_hash) != e.hash:
            problems.append(f"entry {e.seq} ({e.action} {e.subject}): content does not match its hash (edited)")
        if e.action == "issue":
            issued.add(e.subject)
        elif e.action == "revoke":
            revoked.add(e.subject)
        prev, expected_seq = e.hash, e.seq + 1
    for number, status in session.execute(select(Certificate.number, Certificate.status)):
        if number not in issued:
            problems.append(f"certificate {number} has no issue entry (entry deleted, or row added outside footprint)")
        if status == "withdrawn" and number not in revoked:
            problems.append(f"certificate {number} is withdrawn but has no revoke entry")
    return ChainReport(count, prev, problems)
