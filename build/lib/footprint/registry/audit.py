"""Hash-chained, signed, append-only audit log of registry events, and the replay that checks the registry.

Every state change of the registry is one entry, written in the same transaction as the change:
``seq, at, action, subject, detail, prev_hash, hash, signature``. The hash is the SHA-256 of the
canonical JSON of the entry with the previous entry's hash; the signature is the registry key's
(:mod:`footprint.registry.seal`) Ed25519 signature of that hash. So:

- an edited entry no longer matches its hash; an inserted, re-chained or re-hashed one has no valid
  signature (only the key's holder can sign); a deleted one leaves a gap in the sequence;
- a deleted *last* entry leaves a valid shorter chain: the witness file of the data directory
  (and the last entry named by a signed export) must still be in the log;
- a table changed in SQL around the log is found by **replay**: each action has a replay function
  that rebuilds the rows the log says the tables must hold, and each audited table a reader of its
  live rows; :func:`verify` compares the two (a un-revoked certificate, a swapped hash, a deleted or
  added row, a lowered counter).

A new state change becomes audited by: writing its table and ``append`` in one ``registry.write()``
transaction, putting every column value it sets in the entry's detail, and registering
``@replays(action)`` (and ``@reads(table)`` for a new table) in a module listed in
``REPLAY_MODULES``. DEVELOPERS.md, "Audit log", has the recipe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from footprint.registry.schema import AuditEntry
from footprint.registry.seal import Seal

GENESIS = "0" * 64
_LOG = AuditEntry.__table__
_HEAD = select(_LOG.c.seq, _LOG.c.hash).order_by(_LOG.c.seq.desc()).limit(1)
_INSERT = insert(_LOG)
#: the log's size and newest number, each in a subquery of its own: SQLite counts a bare ``count(*)`` by
#: walking the pages of the table's narrowest index (``ix_audit_log_seq``, ~400 entries a page), but a count
#: beside ``max()`` steps through every entry (7 ms instead of 0.03 at 100,000 entries)
LOG_SIZE = select(func.count()).select_from(_LOG).scalar_subquery()
LOG_NEWEST = select(func.max(_LOG.c.seq)).scalar_subquery()
#: modules whose ``@replays``/``@reads`` functions audit verify needs (imported on first use)
REPLAY_MODULES = ["footprint.registry.records", "footprint.registry.reviewers", "footprint.registry.users",
                  "footprint.registry.requests"]


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(seq: int, at: str, action: str, subject: str, detail: str, prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of ``{"seq", "at", "action", "subject", "detail", "prev"}``.

    Written out key by key (sorted) rather than through ``json.dumps``: an issue entry's detail holds the
    whole certificate row, PACT JSON included (~37 KB), and verify hashes it at every lookup. Values of
    other types than ``int`` and ``str`` take ``json.dumps`` itself.
    """
    if type(seq) is not int or not all(type(v) is str for v in (at, action, subject, detail, prev_hash)):
        return hashlib.sha256(_canonical({"seq": seq, "at": at, "action": action, "subject": subject,
                                          "detail": detail, "prev": prev_hash})).hexdigest()
    return hashlib.sha256(b"".join((
        b'{"action":', _json_string(action), b',"at":', _json_string(at), b',"detail":', _json_string(detail),
        b',"prev":', _json_string(prev_hash), b',"seq":', str(seq).encode(), b',"subject":', _json_string(subject),
        b"}"))).hexdigest()


_CONTROL = bytes(range(0x20))


def _json_string(s: str) -> bytes:
    """``s`` as ``json.dumps(s, ensure_ascii=False)`` writes it, in UTF-8.

    That escapes only ``"``, ``\\`` and the characters below U+0020; UTF-8 writes every other character
    in bytes ≥ 0x20 that are neither quote nor backslash (those of U+0080 and above are all ≥ 0x80), so
    without a control character the escaping is two byte replacements. A string with one goes through
    ``json.dumps``.
    """
    data = s.encode()
    if len(data.translate(None, _CONTROL)) != len(data):
        return json.dumps(s, ensure_ascii=False).encode()
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def timestamp(t: dt.datetime | None = None) -> str:
    """How the log writes a time: UTC ISO 8601 with microseconds."""
    return (t or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="microseconds")


def append(session: Session, action: str, subject: str, detail: dict | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    """Add one signed entry after the current head; the caller's transaction holds the write lock.

    The registry's ``write()`` puts its key in ``session.info["seal"]``; a session without it
    cannot write to the log. Changes the caller made through the ORM are flushed first (their rows
    exist before the entry that records them, as with the ORM's own autoflush); the head is read and
    the entry inserted with two prebuilt Core statements. The entry comes back as an
    :class:`AuditEntry` holding the values written (not attached to the session).
    """
    seal: Seal | None = session.info.get("seal")
    if seal is None:
        raise RuntimeError("audit entries are written only inside Registry.write() (it holds the registry key)")
    session.flush()
    conn = session.connection()
    head = conn.execute(_HEAD).first()
    seq = head.seq + 1 if head else 1
    prev = head.hash if head else GENESIS
    when = timestamp(at)
    text = _canonical(detail or {}).decode()
    digest = entry_hash(seq, when, action, subject, text, prev)
    values = {"seq": seq, "at": when, "action": action, "subject": subject, "detail": text, "prev_hash": prev,
              "hash": digest, "signature": seal.sign(digest)}
    conn.execute(_INSERT, values)
    session.info["audit_head"] = (seq, digest)
    return AuditEntry(**values)


# ---- replay ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """An entry as replay functions see it (detail parsed)."""

    seq: int
    at: str
    action: str
    subject: str
    detail: dict
    hash: str


@dataclass
class State:
    """The registry as the log says it must be: table → row key → {column: value}."""

    tables: dict[str, dict[str, dict]] = field(default_factory=lambda: defaultdict(dict))
    problems: list[str] = field(default_factory=list)

    def rows(self, table: str) -> dict[str, dict]:
        return self.tables[table]


Replay = Callable[[State, Entry], None]
Reader = Callable[[Session], dict[str, dict]]
_REPLAYS: dict[str, Replay] = {}
_READERS: dict[str, Reader] = {}


def replays(*actions: str) -> Callable[[Replay], Replay]:
    """Register how entries of ``actions`` change the expected state."""
    def register(fn: Replay) -> Replay:
        for action in actions:
            _REPLAYS[action] = fn
        return fn
    return register


def reads(table: str) -> Callable[[Reader], Reader]:
    """Register the reader of an audited table's live rows (key → {column: value}, values as JSON would give)."""
    def register(fn: Reader) -> Reader:
        _READERS[table] = fn
        return fn
    return register


def row_created(table: str, state: State, entry: Entry) -> None:
    """Replay of an entry whose detail holds the whole new row under ``row`` (keyed by the entry's subject)."""
    row = entry.detail.get("row")
    if not isinstance(row, dict):
        state.problems.append(f"entry {entry.seq} ({entry.action} {entry.subject}) does not hold its row")
        return
    state.rows(table)[entry.subject] = dict(row)


def row_changed(table: str, state: State, entry: Entry) -> None:
    """Replay of an entry whose detail holds the columns it set under ``set``."""
    rows = state.rows(table)
    if entry.subject not in rows:
        state.problems.append(f"entry {entry.seq} ({entry.action} {entry.subject}): changes a {table} row the log "
                              "never created")
        return
    rows[entry.subject].update(entry.detail.get("set") or {})


def _load_replays() -> None:
    for name in REPLAY_MODULES:
        importlib.import_module(name)


def replay(entries: Iterable[Entry]) -> State:
    """The expected tables after ``entries``: from the last ``seal`` snapshot (if any) on."""
    _load_replays()
    entries = list(entries)
    start = max((i for i, e in enumerate(entries) if e.action == "seal"), default=0)
    state = State()
    for e in entries[start:]:
        fn = _REPLAYS.get(e.action)
        if fn is not None:
            fn(state, e)
    return state


def snapshot(session: Session) -> dict[str, dict[str, dict]]:
    """Every audited table's rows now (what a ``seal`` entry signs for a log older than the key)."""
    _load_replays()
    return {table: reader(session) for table, reader in _READERS.items()}


@replays("seal")
def _replay_seal(state: State, entry: Entry) -> None:
    state.tables.clear()
    for table, rows in (entry.detail.get("tables") or {}).items():
        state.tables[table] = {key: dict(row) for key, row in rows.items()}


def compare(state: State, live: dict[str, dict[str, dict]]) -> list[str]:
    """Every difference between the replayed and the live tables, one sentence each."""
    problems: list[str] = []
    for table, reader_rows in live.items():
        expected = state.tables.get(table, {})
        for key in sorted(set(expected) | set(reader_rows)):
            if key not in reader_rows:
                problems.append(f"{table} {key}: in the audit log but not in the database (row deleted)")
            elif key not in expected:
                problems.append(f"{table} {key}: in the database but not in the audit log (row added outside "
                                "footprint)")
            else:
                for column, value in expected[key].items():
                    if column in reader_rows[key] and reader_rows[key][column] != value:
                        problems.append(f"{table} {key}: {column} is {reader_rows[key][column]!r} in the database "
                                        f"but {value!r} by the audit log (changed outside footprint)")
    return problems


# ---- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: str
    problems: list[str]
    key: str | None = None  # fingerprint of the registry key the entries were checked against
    unsigned: int = 0  # entries written before the registry had a key (protected by the chain only)

    @property
    def ok(self) -> bool:
        return not self.problems


class LogRow(NamedTuple):
    """An ``audit_log`` row read with a plain cursor: :class:`AuditEntry`'s columns, in their order."""

    seq: int
    at: str
    action: str
    subject: str
    detail: str
    prev_hash: str
    hash: str
    signature: str | None


def parse(e: AuditEntry | LogRow) -> Entry:
    try:
        detail = json.loads(e.detail)
    except ValueError:
        detail = {}
    return Entry(e.seq, e.at, e.action, e.subject, detail if isinstance(detail, dict) else {}, e.hash)


def verify(session: Session, seal: Seal | None, witnessed: tuple[int, str] | None = None,
           anchors: Iterable[tuple[int, str, str]] = ()) -> ChainReport:
    """Recompute every link and signature, check the witnessed head, replay, and compare every audited table.

    ``anchors``: (sequence, hash, where) of entries named elsewhere (signed exports) that must be in the log.
    """
    problems: list[str] = []
    prev, expected_seq, count, unsigned = GENESIS, 1, 0, 0
    signed_seen = False
    parsed: list[Entry] = []
    hashes: dict[int, str] = {}
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        count += 1
        if e.seq != expected_seq:
            problems.append(f"entries {expected_seq}–{e.seq - 1} are missing (deleted)")
        if e.prev_hash != prev:
            problems.append(f"entry {e.seq}: does not link to the entry before it (an entry was deleted or replaced)")
        if entry_hash(e.seq, e.at, e.action, e.subject, e.detail, e.prev_hash) != e.hash:
            problems.append(f"entry {e.seq} ({e.action} {e.subject}): content does not match its hash (edited)")
        if e.signature is None and not signed_seen:
            unsigned += 1  # written before the registry had a key: covered by the next signed entry's chain
        elif seal is None:
            problems.append(f"entry {e.seq}: signed, but the registry key is missing; cannot check it")
        elif not seal.check(e.hash, e.signature):
            problems.append(f"entry {e.seq} ({e.action} {e.subject}): not signed by the registry key "
                            "(inserted or re-chained outside footprint)")
        signed_seen = signed_seen or e.signature is not None
        parsed.append(parse(e))
        hashes[e.seq] = e.hash
        prev, expected_seq = e.hash, e.seq + 1
    if unsigned and not signed_seen and count:
        problems.append(f"none of the {count} entries is signed by a registry key (a log older than the key: "
                        "the next write seals it)")
    for seq, digest, where in ([(*witnessed, "this data directory's witness")] if witnessed else []) + list(anchors):
        if hashes.get(seq) != digest:
            problems.append(f"entry {seq} ({digest[:16]}…), seen by {where}, is not in the log: the log was cut "
                            "short or replaced")
    state = replay(parsed)
    problems.extend(state.problems)
    problems.extend(compare(state, snapshot(session)))
    return ChainReport(count, prev, problems, seal.fingerprint if seal else None, unsigned)


def newest(session: Session, limit: int, before: int | None = None) -> list[Entry]:
    """The latest ``limit`` entries (before sequence number ``before``), newest first, as a log page lists them."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    return [parse(e) for e in session.execute(query).scalars()]


def subject_entries(session: Session, subject: str) -> list[AuditEntry]:
    return list(session.execute(select(AuditEntry).where(AuditEntry.subject == subject)
                                .order_by(AuditEntry.seq)).scalars())


def check_entries(session: Session, entries: list[AuditEntry], seal: Seal | None,
                  witnessed: tuple[int, str] | None) -> list[str]:
    """The cheap check before relying on a few entries: each signed and linked, no gap, head not cut short."""
    count, last = session.execute(select(LOG_SIZE, LOG_NEWEST)).one()
    held = session.execute(select(AuditEntry.hash).where(AuditEntry.seq == witnessed[0])).scalar() \
        if witnessed else None
    befores = [session.execute(select(AuditEntry.hash).where(AuditEntry.seq == e.seq - 1)).scalar()
               for e in entries if e.seq > 1]
    return entry_problems(count, last, witnessed, held, entries, befores, seal)


def entry_problems(count: int, last: int | None, witnessed: tuple[int, str] | None, held: str | None,
                   entries: list, befores: list[str | None], seal: Seal | None) -> list[str]:
    """What :func:`check_entries` and ``Registry.checked`` report, from the log's size and newest number, the
    hash it holds at the witnessed number (``held``), and the hash before each entry numbered above 1
    (``befores``, in order)."""
    problems: list[str] = []
    if count != (last or 0):
        problems.append(f"the audit log has {count} entries numbered up to {last}: entries were deleted")
    if witnessed and held != witnessed[1]:
        problems.append(f"entry {witnessed[0]} seen by this data directory is not in the log: the log was cut short")
    linked = iter(befores)
    for e in entries:
        before = next(linked) if e.seq > 1 else GENESIS
        if e.prev_hash != before or entry_hash(e.seq, e.at, e.action, e.subject, e.detail, e.prev_hash) != e.hash:
            problems.append(f"entry {e.seq} ({e.action} {e.subject}) was edited or re-chained")
        elif seal is None or not seal.check(e.hash, e.signature):
            problems.append(f"entry {e.seq} ({e.action} {e.subject}) is not signed by the registry key")
    return problems
