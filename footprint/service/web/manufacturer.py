"""The manufacturer's pages: its parks (submissions), results, certification requests and certificates.

A manufacturer sees only submissions naming one of its enterprises and only its own enterprises'
products and certificates; anything else answers 404, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from footprint.registry.records import Registry
from footprint.registry.schema import Submission as SubmissionRow
from footprint.registry.users import User
from footprint.service.web.sessions import render, require

router = APIRouter()


@dataclass(frozen=True)
class Submission:
    id: int
    park_id: str
    enterprise_ids: tuple[str, ...]
    folder: str
    file_name: str
    content_sha256: str
    uploaded_by: int
    created_at: dt.datetime


def _submission(row: SubmissionRow) -> Submission:
    return Submission(row.id, row.park_id, tuple(json.loads(row.enterprise_ids)), row.folder, row.file_name,
                      row.content_sha256, row.uploaded_by, row.created_at)


def submissions_of(registry: Registry, user: User) -> list[Submission]:
    """The submissions naming one of the user's enterprises, newest first."""
    with registry.read() as s:
        rows = [_submission(r) for r in s.execute(select(SubmissionRow).order_by(SubmissionRow.id.desc())).scalars()]
    return [r for r in rows if user.sees_enterprise(r.enterprise_ids)]


@router.get("/parks", response_class=HTMLResponse)
def parks(request: Request, user: User = require("manufacturer")) -> HTMLResponse:
    return render(request, "web/parks.html.j2", submissions=submissions_of(request.app.state.service.registry, user))
