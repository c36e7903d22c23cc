"""Certification requests of the web app: a manufacturer asks for products of an uploaded park to be
certified; a reviewer reviews and decides; an issuer issues.

A request moves requested → reviewing → approved | rejected, and approved → issued (with the
certificate numbers). Each change is an audit entry holding what it set, and replay checks the
``certification_requests`` table against the log like every other audited table, so a request
approved or marked issued in SQL shows in ``footprint audit verify``. The approval itself is the
reviewer's decision entry (review.decisions), which issuing relies on; a request's status only
routes the work. Submissions (the parks uploaded) are read here for the pages that show requests.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from footprint.registry import audit
from footprint.registry.records import Registry, RegistryError, as_utc
from footprint.registry.schema import CertificationRequest as RequestRow
from footprint.registry.schema import Submission as SubmissionRow

STATUSES = ("requested", "reviewing", "approved", "rejected", "issued")
FROM = {"reviewing": ("requested",), "approved": ("requested", "reviewing"), "rejected": ("requested", "reviewing"),
        "issued": ("approved",)}
MAX_NOTE = 4000


@dataclass(frozen=True)
class Request:
    id: int
    submission_id: int
    products: tuple[str, ...]
    status: str
    requested_by: int
    created_at: dt.datetime
    decided_by: int | None
    decided_at: dt.datetime | None
    decision_note: str | None
    certificate_numbers: tuple[str, ...]


@dataclass(frozen=True)
class Submission:
    """A park uploaded through the web app (stored only once it validated)."""

    id: int
    park_id: str
    enterprise_ids: tuple[str, ...]
    folder: str
    file_name: str
    content_sha256: str
    uploaded_by: int
    created_at: dt.datetime


def _stamp(t: dt.datetime | None) -> str | None:
    return audit.timestamp(as_utc(t)) if t else None


def _request(r: RequestRow) -> Request:
    return Request(r.id, r.submission_id, tuple(json.loads(r.products)), r.status, r.requested_by,
                   as_utc(r.created_at), r.decided_by, as_utc(r.decided_at), r.decision_note,  # type: ignore[arg-type]
                   tuple(json.loads(r.certificate_numbers or "[]")))


def _submission(r: SubmissionRow) -> Submission:
    return Submission(r.id, r.park_id, tuple(json.loads(r.enterprise_ids)), r.folder, r.file_name, r.content_sha256,
                      r.uploaded_by, as_utc(r.created_at))  # type: ignore[arg-type]


def _row(r: RequestRow) -> dict:
    """What the audit log holds of a request."""
    return {"submission_id": r.submission_id, "products": json.loads(r.products), "status": r.status,
            "requested_by": r.requested_by, "created_at": _stamp(r.created_at), "decided_by": r.decided_by,
            "decided_at": _stamp(r.decided_at), "decision_note": r.decision_note,
            "certificate_numbers": json.loads(r.certificate_numbers or "[]")}


def _subject(request_id: int) -> str:
    return f"request:{request_id}"


def create(registry: Registry, submission_id: int, products: list[str], by_user_id: int) -> Request:
    """A new request to certify ``products`` of a stored submission."""
    chosen = list(dict.fromkeys(p for p in products if p))
    if not chosen:
        raise RegistryError("choose at least one product to certify")
    with registry.write() as s:
        if s.get(SubmissionRow, submission_id) is None:
            raise RegistryError(f"no submission {submission_id}")
        row = RequestRow(submission_id=submission_id, products=json.dumps(chosen), status="requested",
                         requested_by=by_user_id, created_at=dt.datetime.now(dt.UTC), decided_by=None,
                         decided_at=None, decision_note=None, certificate_numbers="[]")
        s.add(row)
        s.flush()
        audit.append(s, "request-create", _subject(row.id), {"row": _row(row)})
        return _request(row)


def transition(registry: Registry, request_id: int, to: str, by_user_id: int, note: str | None = None,
               numbers: list[str] | None = None) -> Request:
    """Move a request on: ``reviewing``; ``approved`` or ``rejected`` (who decided, when, the note);
    ``issued`` (the certificate numbers). Any other move is refused, naming the request's status."""
    if to not in FROM:
        raise RegistryError(f"a request cannot become {to!r}")
    with registry.write() as s:
        row = s.get(RequestRow, request_id)
        if row is None:
            raise RegistryError(f"no certification request {request_id}")
        if row.status not in FROM[to]:
            raise RegistryError(f"request {request_id} is {row.status}; it cannot become {to}")
        before = row.status
        row.status = to
        if to in ("approved", "rejected"):
            row.decided_by, row.decided_at = by_user_id, dt.datetime.now(dt.UTC)
            row.decision_note = (note or "")[:MAX_NOTE] or None
        if to == "issued":
            row.certificate_numbers = json.dumps(list(numbers or []))
        s.flush()
        changed = {k: v for k, v in _row(row).items() if k in ("status", "decided_by", "decided_at", "decision_note",
                                                                   "certificate_numbers")}
        audit.append(s, f"request-{to}", _subject(request_id), {"from": before, "by": by_user_id, "set": changed})
        return _request(row)


def get(registry: Registry, request_id: int) -> Request | None:
    with registry.read() as s:
        row = s.get(RequestRow, request_id)
        return _request(row) if row is not None else None


def listing(registry: Registry, statuses: tuple[str, ...] | None = None) -> list[Request]:
    """Requests (of ``statuses``), newest first."""
    query = select(RequestRow).order_by(RequestRow.id.desc())
    if statuses:
        query = query.where(RequestRow.status.in_(statuses))
    with registry.read() as s:
        return [_request(r) for r in s.execute(query).scalars()]


def submission(registry: Registry, submission_id: int) -> Submission:
    with registry.read() as s:
        row = s.get(SubmissionRow, submission_id)
        if row is None:
            raise RegistryError(f"no submission {submission_id}")
        return _submission(row)


def submissions(registry: Registry) -> list[Submission]:
    """Every stored submission, newest first (pages filter them by the user's enterprises)."""
    with registry.read() as s:
        return [_submission(r) for r in s.execute(select(SubmissionRow).order_by(SubmissionRow.id.desc())).scalars()]


@audit.replays("request-create")
def _replay_create(state: audit.State, entry: audit.Entry) -> None:
    audit.row_created("certification_requests", state, entry)


@audit.replays(*(f"request-{to}" for to in FROM))
def _replay_transition(state: audit.State, entry: audit.Entry) -> None:
    audit.row_changed("certification_requests", state, entry)


@audit.reads("certification_requests")
def _rows(session: Session) -> dict[str, dict]:
    return {_subject(r.id): _row(r) for r in session.execute(select(RequestRow)).scalars()}
