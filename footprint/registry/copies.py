"""The registry's own copy of each issued certificate: the signed PDF and its embedded data file.

Kept in the database (not only as files in an output folder) so that every server process,
wherever it runs, can serve the ProductFootprints and check the signature of the copy on the
public verification page. The copy is written in the same transaction as the certificate's row;
its hashes are the ones the row records, so the copy is the document that was issued.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from footprint.registry.records import Registry, RegistryError
from footprint.registry.schema import Certificate, CertificateCopy


@dataclass(frozen=True)
class Listed:
    """A certificate that has a copy: its number, registry status and the PACT id of its footprint."""

    number: str
    status: str
    footprint_id: str


def add(session: Session, number: str, pdf: bytes, data: bytes, pdf_sha256: str, data_sha256: str) -> None:
    """Store the copy (inside the caller's write transaction); refuses bytes that are not the recorded ones."""
    if hashlib.sha256(pdf).hexdigest() != pdf_sha256 or hashlib.sha256(data).hexdigest() != data_sha256:
        raise RegistryError(f"{number}: the copy's hashes are not the certificate's")
    try:
        footprint_id = str(json.loads(data)["id"]).lower()
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"{number}: the embedded data is not a ProductFootprint with an id") from None
    session.add(CertificateCopy(number=number, footprint_id=footprint_id, pdf=pdf, data=data.decode("utf-8")))


def listing(registry: Registry) -> list[Listed]:
    """Every certificate with a copy, in issue order (stable for pagination); a light query, run per request."""
    with registry.read() as s:
        rows = s.execute(select(Certificate.number, Certificate.status, CertificateCopy.footprint_id)
                         .join(CertificateCopy, CertificateCopy.number == Certificate.number)
                         .order_by(Certificate.id)).all()
    return [Listed(*row) for row in rows]


def data(registry: Registry, numbers: list[str]) -> dict[str, dict]:
    """The issued ProductFootprint of each number (parsed)."""
    with registry.read() as s:
        rows = s.execute(select(CertificateCopy.number, CertificateCopy.data)
                         .where(CertificateCopy.number.in_(numbers))).all()
    return {n: json.loads(d) for n, d in rows}


def pdf(registry: Registry, number: str) -> bytes | None:
    with registry.read() as s:
        return s.execute(select(CertificateCopy.pdf).where(CertificateCopy.number == number.strip().upper())).scalar()
