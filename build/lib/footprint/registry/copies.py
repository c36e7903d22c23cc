"""The registry's own copy of each issued certificate's signed PDF, and the footprints it serves.

The PDF is kept in the database (not only as a file in an output folder) so that every server
process, wherever it runs, can check the signature of the copy on the public verification page.
It is written in the same transaction as the certificate's row, after checking that its hash is
the one the row records. The ProductFootprints themselves are the rows' ``pact_json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from footprint.registry.records import Record, Registry, RegistryError, _iso
from footprint.registry.schema import Certificate, CertificateCopy


@dataclass(frozen=True)
class Listed:
    """A certificate whose footprint is served: number, stored status and validity (for ``status_at``)."""

    number: str
    status: str
    valid_from: str
    valid_until: str

    def status_at(self, now: dt.datetime | None = None) -> str:
        """The registry's status now (``expired`` past validity): the one rule of :meth:`Record.status_at`."""
        return Record.status_at(self, now)  # type: ignore[arg-type] - it reads only these four fields


def add(session: Session, number: str, pdf: bytes, pdf_sha256: str) -> None:
    """Store the copy (inside the caller's write transaction); refuses bytes that are not the recorded ones."""
    if hashlib.sha256(pdf).hexdigest() != pdf_sha256:
        raise RegistryError(f"{number}: the copy's hash is not the certificate's")
    session.connection().execute(_INSERT, {"number": number, "pdf": pdf})


_INSERT = insert(CertificateCopy.__table__)


def listing(registry: Registry) -> list[Listed]:
    """Every certificate with a ProductFootprint, in issue order (stable for pagination); a light query."""
    with registry.read() as s:
        rows = s.execute(select(Certificate.number, Certificate.status, Certificate.valid_from,
                                Certificate.valid_until)
                         .where(Certificate.pact_json.is_not(None)).order_by(Certificate.id)).all()
    return [Listed(n, status, _iso(start), _iso(end)) for n, status, start, end in rows]  # type: ignore[arg-type]


def footprints(registry: Registry, numbers: list[str]) -> dict[str, str]:
    """number → the ProductFootprint JSON as issued."""
    with registry.read() as s:
        return dict(s.execute(select(Certificate.number, Certificate.pact_json)
                              .where(Certificate.number.in_(numbers))).all())


def pdf(registry: Registry, number: str) -> bytes | None:
    with registry.read() as s:
        return s.execute(select(CertificateCopy.pdf).where(CertificateCopy.number == number.strip().upper())).scalar()
