"""PACT events received on /3/events, and the replies owed for requests, kept until delivered.

A RequestCreatedEvent is accepted at once and answered later: the answer (a RequestFulfilledEvent
or RequestRejectedEvent) is computed once, stored, and sent to the requester's ``source`` until it
is delivered, with exponential backoff, and given up after 72 hours (the spec's SHOULD). Any server
process may send: a sender claims due events with a short lease inside a write transaction, so
two processes never send the same reply at the same time, and a crashed sender's lease runs out.
Received events are idempotent by (client, source, id): a retried POST is accepted and not
answered twice.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select

from footprint.registry.records import Registry
from footprint.registry.schema import PactEvent

GIVE_UP_AFTER = dt.timedelta(hours=72)


@dataclass(frozen=True)
class Due:
    """A reply to send now (claimed by this sender until ``lease_until``)."""

    id: int
    owner: str
    request: dict
    reply_source: str
    reply: dict | None
    attempts: int
    received_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def receive(registry: Registry, client_id: str, body: dict, kind: str, reply_source: str) -> bool:
    """Keep an accepted event; a request is queued for its answer. False if it was already received."""
    at = _now()
    with registry.write() as s:
        seen = s.execute(select(PactEvent.id).where(
            PactEvent.client_id == client_id, PactEvent.source == body["source"],
            PactEvent.event_id == body["id"])).first()
        if seen:
            return False
        s.add(PactEvent(client_id=client_id, event_id=body["id"], source=body["source"], type=body["type"],
                        received_at=at, body=json.dumps(body, ensure_ascii=False), reply_source=reply_source,
                        state="pending" if kind == "created" else "received", attempts=0,
                        next_attempt_at=at if kind == "created" else None))
    return True


def claim(registry: Registry, lease_seconds: float = 60, limit: int = 20, now: dt.datetime | None = None) -> list[Due]:
    """Claim up to ``limit`` replies whose time has come and that no live sender holds."""
    now = now or _now()
    owner = str(uuid.uuid4())
    with registry.write() as s:
        rows = s.execute(select(PactEvent).where(
            PactEvent.state == "pending", PactEvent.next_attempt_at <= now,
            or_(PactEvent.lease_until.is_(None), PactEvent.lease_until < now))
            .order_by(PactEvent.next_attempt_at).limit(limit)).scalars().all()
        for row in rows:
            row.lease_until, row.lease_owner = now + dt.timedelta(seconds=lease_seconds), owner
        return [Due(r.id, owner, json.loads(r.body), r.reply_source, json.loads(r.reply) if r.reply else None,
                    r.attempts, _utc(r.received_at)) for r in rows]  # type: ignore[arg-type]


def _owned(s, due: Due) -> PactEvent | None:  # noqa: ANN001 - Session
    row = s.get(PactEvent, due.id)
    return row if row is not None and row.lease_owner == due.owner and row.state == "pending" else None


def set_reply(registry: Registry, due: Due, reply: dict) -> dict:
    """Store the answer the first time it is computed (retries send the very same event)."""
    with registry.write() as s:
        row = _owned(s, due)
        if row is None:
            return reply
        if row.reply:
            return json.loads(row.reply)
        row.reply = json.dumps(reply, ensure_ascii=False)
        return reply


def delivered(registry: Registry, due: Due) -> None:
    with registry.write() as s:
        row = _owned(s, due)
        if row is not None:
            row.state, row.delivered_at, row.attempts, row.lease_until = "delivered", _now(), row.attempts + 1, None


def failed(registry: Registry, due: Due, error: str, base_seconds: float, max_seconds: float = 3600) -> str:
    """Count a failed attempt; the next waits ``base × 2^attempts`` (capped), or the reply is abandoned."""
    now = _now()
    with registry.write() as s:
        row = _owned(s, due)
        if row is None:
            return "not owned"
        row.attempts += 1
        row.last_error, row.lease_until = error[:1000], None
        wait = dt.timedelta(seconds=min(base_seconds * 2 ** (row.attempts - 1), max_seconds))
        if now + wait - _utc(row.received_at) > GIVE_UP_AFTER:  # type: ignore[operator]
            row.state = "abandoned"
        else:
            row.next_attempt_at = now + wait
        return row.state


@dataclass(frozen=True)
class Stored:
    client_id: str
    event_id: str
    type: str
    state: str
    attempts: int
    last_error: str | None
    reply: dict | None


def events(registry: Registry) -> list[Stored]:
    """Every event received, oldest first (for operators and tests)."""
    with registry.read() as s:
        return [Stored(e.client_id, e.event_id, e.type, e.state, e.attempts, e.last_error,
                       json.loads(e.reply) if e.reply else None)
                for e in s.execute(select(PactEvent).order_by(PactEvent.id)).scalars()]


def next_due(registry: Registry) -> dt.datetime | None:
    """When the earliest pending reply is due (None when nothing is pending)."""
    with registry.read() as s:
        t = s.execute(select(PactEvent.next_attempt_at).where(PactEvent.state == "pending")
                      .order_by(PactEvent.next_attempt_at).limit(1)).scalar()
    return _utc(t)
