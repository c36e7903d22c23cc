"""Registered reviewers: a review decision must name one of them, not any string.

A reviewer is an identity the certification body registers (``footprint reviewers add``): an id,
the person's name, their organisation (the verification body) and its accreditation (ISO 14065,
e.g. a CNAS number). Adding and removing are audit entries like every other registry change, so a
reviewer row inserted in SQL shows in ``footprint audit verify``, and a decision entry carries a
snapshot of the identity it was taken under.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from footprint.registry import audit
from footprint.registry.records import Registry, RegistryError
from footprint.registry.schema import Reviewer

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_COLUMNS = ("name", "organisation", "accreditation", "email", "active", "added_at", "removed_at")


@dataclass(frozen=True)
class Identity:
    id: str
    name: str
    organisation: str
    accreditation: str | None
    email: str | None
    active: bool

    def describe(self) -> str:
        """``name (organisation, accreditation)`` as verify and certificates print it."""
        extra = f", {self.accreditation}" if self.accreditation else ""
        return f"{self.name} ({self.organisation}{extra})"

    def snapshot(self) -> dict:
        """What a decision entry records of the reviewer who took it."""
        return {"reviewer": self.id, "reviewer_name": self.name, "reviewer_organisation": self.organisation,
                "reviewer_accreditation": self.accreditation}


def _row(r: Reviewer) -> dict:
    return {c: getattr(r, c) for c in _COLUMNS}


def _identity(r: Reviewer) -> Identity:
    return Identity(r.id, r.name, r.organisation, r.accreditation, r.email, bool(r.active))


def add(registry: Registry, reviewer_id: str, name: str, organisation: str, accreditation: str | None = None,
        email: str | None = None) -> Identity:
    """Register a reviewer; the id is lower-case letters, digits, ``.``, ``_``, ``-`` (e.g. ``li.wei``)."""
    if not _ID.match(reviewer_id):
        raise RegistryError(f"reviewer id {reviewer_id!r}: use lower-case letters, digits, '.', '_' or '-' "
                            "(at most 64), e.g. li.wei")
    if not name.strip() or not organisation.strip():
        raise RegistryError("a reviewer needs a name and an organisation")
    with registry.write() as s:
        if s.get(Reviewer, reviewer_id) is not None:
            raise RegistryError(f"reviewer {reviewer_id} is already registered")
        row = Reviewer(id=reviewer_id, name=name.strip(), organisation=organisation.strip(),
                       accreditation=(accreditation or "").strip() or None, email=(email or "").strip() or None,
                       active=True, added_at=audit.timestamp(), removed_at=None)
        s.add(row)
        s.flush()
        audit.append(s, "reviewer-add", reviewer_id, {"row": _row(row)})
        return _identity(row)


def remove(registry: Registry, reviewer_id: str, reason: str) -> Identity:
    """A reviewer who may no longer decide (left, accreditation lapsed); past decisions stay as recorded."""
    if not reason.strip():
        raise RegistryError("a reason is required")
    with registry.write() as s:
        row = s.get(Reviewer, reviewer_id)
        if row is None or not row.active:
            raise RegistryError(f"no active reviewer {reviewer_id}")
        row.active, row.removed_at = False, audit.timestamp()
        s.flush()
        audit.append(s, "reviewer-remove", reviewer_id, {"reason": reason,
                                                         "set": {"active": False, "removed_at": row.removed_at}})
        return _identity(row)


def get(session: Session, reviewer_id: str) -> Identity | None:
    row = session.get(Reviewer, reviewer_id)
    return _identity(row) if row else None


def active(session: Session, reviewer_id: str) -> Identity:
    """The registered, active reviewer of that id, or RegistryError naming how to register one."""
    found = get(session, reviewer_id)
    if found is None:
        raise RegistryError(f"{reviewer_id!r} is not a registered reviewer: register them with "
                            "`footprint reviewers add ID --name ... --organisation ...`")
    if not found.active:
        raise RegistryError(f"reviewer {reviewer_id} was removed and may no longer decide")
    return found


def for_email(registry: Registry, email: str) -> Identity | None:
    """The active registered reviewer with this contact address (case-insensitive): how a web app user is
    linked to the identity their decisions name. Several active reviewers sharing it is refused."""
    wanted = email.strip().lower()
    with registry.read() as s:
        found = [_identity(r) for r in s.execute(select(Reviewer).where(Reviewer.active.is_(True))).scalars()
                 if (r.email or "").strip().lower() == wanted and wanted]
    if len(found) > 1:
        raise RegistryError(f"{len(found)} active reviewers share the address {email} "
                            f"({', '.join(r.id for r in found)}); give each their own")
    return found[0] if found else None


def listing(registry: Registry) -> list[Identity]:
    with registry.read() as s:
        return [_identity(r) for r in s.execute(select(Reviewer).order_by(Reviewer.id)).scalars()]


@audit.replays("reviewer-add")
def _replay_add(state: audit.State, entry: audit.Entry) -> None:
    audit.row_created("reviewers", state, entry)


@audit.replays("reviewer-remove")
def _replay_remove(state: audit.State, entry: audit.Entry) -> None:
    audit.row_changed("reviewers", state, entry)


@audit.reads("reviewers")
def _rows(session: Session) -> dict[str, dict]:
    return {r.id: _row(r) for r in session.execute(select(Reviewer)).scalars()}
