"""Issuing one certificate, all or nothing: reserve number → render → sign → write file → record.

The documents layer renders (this module only calls the ``render`` function it is given with the
reserved number), the signer signs, the registry records. If any step fails, the file is removed,
no certificate row exists, and the reserved number is marked ``void`` in the audit log so it is
never handed out again and the gap is explained. The registry row is committed only after the
file is in place under its final name, so a recorded certificate always has its file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from footprint.certificates.signing import DocumentSigner, SignatureBox
from footprint.registry.records import NewCertificate, Record, Registry, Reservation

DEMO_TEXT = "NOT A VALID CERTIFICATION"


class IssueError(Exception):
    """Issuing failed; nothing was recorded and no file was left behind."""


@dataclass(frozen=True)
class Document:
    """What the documents layer hands back for a reserved number."""

    pdf: bytes
    data_sha256: str
    box: SignatureBox | None
    facts: dict  # NewCertificate fields the registry needs: product, holder, values, period, validity


@dataclass(frozen=True)
class Issued:
    record: Record
    path: Path
    pdf_sha256: str


def page_text(pdf: bytes) -> str:
    """The visible text of every page (to check a demo document says so)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file via a temporary name; refuses to overwrite an existing certificate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if ``path`` exists, unlike rename
    finally:
        tmp.unlink(missing_ok=True)


def issue(registry: Registry, signer: DocumentSigner, park: str, out_dir: Path,
          render: Callable[[Reservation], Document], file_name: Callable[[Reservation], str] | None = None,
          year: int | None = None, reason: str | None = None, prefix: str = "FP") -> Issued:
    """Issue one certificate; on any failure raises :class:`IssueError` with nothing half-done."""
    reservation = registry.reserve(park, year, prefix)
    written: Path | None = None
    try:
        doc = render(reservation)
        if signer.key.demo and DEMO_TEXT not in page_text(doc.pdf).replace("\n", " "):
            raise IssueError(f"a demo key may only sign documents that say DEMO — {DEMO_TEXT}")
        signed = signer.sign(doc.pdf, doc.box, reason=reason or f"Product carbon footprint certificate "
                                                                  f"{reservation.number}")
        digest = hashlib.sha256(signed).hexdigest()
        path = Path(out_dir) / (file_name(reservation) if file_name else f"{reservation.number}.pdf")
        _write_new(path, signed)
        written = path
        facts = dict(doc.facts)
        cert = NewCertificate(data_sha256=doc.data_sha256, pdf_sha256=digest, file_name=path.name,
                              signer=signer.key.holder, signer_fingerprint=signer.key.fingerprint,
                              signature_level=signer.level, demo=signer.key.demo, **facts)
        record = registry.record(reservation, cert, copy=signed)
        return Issued(record, path, digest)
    except BaseException as e:
        if written is not None:
            written.unlink(missing_ok=True)
        try:
            registry.void(reservation.number, f"{type(e).__name__}: {e}"[:500])
        except Exception:  # noqa: BLE001 - the original failure matters more; the number stays unused
            pass
        if isinstance(e, IssueError) or not isinstance(e, Exception):
            raise
        raise IssueError(f"{reservation.number} not issued: {e}") from e


def validity(valid_from: dt.date, valid_until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A certificate's inclusive validity days as UTC instants (start of first day, end of last)."""
    start = dt.datetime.combine(valid_from, dt.time(0), tzinfo=dt.UTC)
    end = dt.datetime.combine(valid_until, dt.time(23, 59, 59), tzinfo=dt.UTC)
    return start, end
