"""Issuing one certificate, all or nothing: reserve → render → sign → write pending file → record → publish.

The documents layer renders (this module only calls the ``render`` function it is given with the
reserved number), the signer signs, the registry records. The signed PDF is written (and synced)
under a pending name ``<file>.pending``, the registry row is committed, and only then is the file
linked to its final name: a published certificate always has its row.

If a step fails, the pending file is removed, no row exists, and the number is voided in the audit
log so it is never handed out again and the gap is explained. If the process is killed instead
(``kill -9``, power cut), :func:`recover` — run by ``footprint registry recover`` and at the start
of every certify — finishes what the log says happened: a recorded certificate's pending file is
published, an unrecorded one is deleted and its number voided. The ``reserve`` entry names the
process and the output folder, so a reservation still being issued by a live process is left alone.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from footprint.certificates.signing import DocumentSigner, SignatureBox
from footprint.files import write_new
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
    text: str | None = None  # the text the renderer laid out; None: read it back from the PDF (slower)


@dataclass(frozen=True)
class Issued:
    record: Record
    path: Path
    pdf_sha256: str


def page_text(pdf: bytes) -> str:
    """The visible text of every page (to check a demo document says so)."""
    import pypdfium2 as pdfium

    from footprint.certificates.verification import PDFIUM_LOCK

    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            return "\n".join(page.get_textpage().get_text_range() for page in doc)
        finally:
            doc.close()


def _text(doc: Document) -> str:
    """What the renderer laid out, else (a renderer that does not say) the text read back from the PDF."""
    return page_text(doc.pdf) if doc.text is None else doc.text


PENDING = ".pending"


def pending_path(path: Path) -> Path:
    return path.with_name(path.name + PENDING)


def _write_pending(path: Path, data: bytes) -> Path:
    """Write the signed file under its pending name, synced; refuses when either name is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise IssueError(f"{path} already exists; a certificate file is never overwritten")
    pending = pending_path(path)
    write_new(pending, data)
    return pending


def _publish(pending: Path, path: Path) -> None:
    """Give the recorded file its final name (a link: fails rather than replace an existing file)."""
    os.link(pending, path)
    pending.unlink()
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def issue(registry: Registry, signer: DocumentSigner, park: str, out_dir: Path,
          render: Callable[[Reservation], Document], file_name: Callable[[Reservation], str] | None = None,
          year: int | None = None, reason: str | None = None, prefix: str = "FP") -> Issued:
    """Issue one certificate; on any failure raises :class:`IssueError` with nothing half-done."""
    reservation = registry.reserve(park, year, prefix, out_dir)
    pending: Path | None = None
    try:
        doc = render(reservation)
        if signer.key.demo and DEMO_TEXT not in _text(doc).replace("\n", " "):
            raise IssueError(f"a demo key may only sign documents that say DEMO — {DEMO_TEXT}")
        signed = signer.sign(doc.pdf, doc.box, reason=reason or f"Product carbon footprint certificate "
                                                                  f"{reservation.number}")
        digest = hashlib.sha256(signed).hexdigest()
        path = Path(out_dir) / (file_name(reservation) if file_name else f"{reservation.number}.pdf")
        pending = _write_pending(path, signed)
        cert = NewCertificate(data_sha256=doc.data_sha256, pdf_sha256=digest, file_name=path.name,
                              signer=signer.key.holder, signer_fingerprint=signer.key.fingerprint,
                              signature_level=signer.level, demo=signer.key.demo, **doc.facts)
        record = registry.record(reservation, cert, copy=signed)
    except BaseException as e:
        if pending is not None and _recorded(registry, reservation.number):
            _publish(pending, path)  # stopped (SIGTERM) just after the commit: the certificate is issued
            raise
        if pending is not None:
            pending.unlink(missing_ok=True)
        try:
            registry.void(reservation.number, f"{type(e).__name__}: {e}"[:500])
        except Exception:  # noqa: BLE001 - the original failure matters more; recovery voids it later
            pass
        if isinstance(e, IssueError) or not isinstance(e, Exception):
            raise
        raise IssueError(f"{reservation.number} not issued: {e}") from e
    try:
        _publish(pending, path)
    except OSError as e:  # recorded: the file stays pending, and recover() publishes it
        raise IssueError(f"{reservation.number} is recorded but its file could not be given its name {path} "
                         f"({e.strerror}); it is at {pending}: run `footprint registry recover`") from e
    return Issued(record, path, digest)


def _recorded(registry: Registry, number: str) -> bool:
    try:
        return registry.get(number) is not None
    except Exception:  # noqa: BLE001 - the database is gone too: recovery decides later
        return True


@dataclass(frozen=True)
class Recovery:
    voided: list[str]
    published: list[Path]
    removed: list[Path]


def recover(registry: Registry) -> Recovery:
    """Finish what killed processes left: publish recorded pending files, delete the others, void their numbers."""
    voided = [p.number for p in registry.recover()]
    alive = {p.number for p in registry.pending() if p.alive}
    published, removed = [], []
    folders: dict[str, list[Path] | None] = {}  # each folder's pending files, listed once (not once per number)
    for number, out_dir in registry.reservations().items():
        if number in alive or not out_dir:
            continue
        if out_dir not in folders:
            folders[out_dir] = list(Path(out_dir).glob(f"*{PENDING}")) if Path(out_dir).is_dir() else None
        for pending in [p for p in folders[out_dir] or () if fnmatch.fnmatchcase(p.name, f"*{number}*{PENDING}")]:
            if not pending.exists():
                continue  # published or removed for an earlier number whose name it also holds
            record = registry.get(number)
            final = pending.with_name(pending.name[: -len(PENDING)])
            if record is not None and final.name == record.file_name and not final.exists() \
                    and hashlib.sha256(pending.read_bytes()).hexdigest() == record.pdf_sha256:
                _publish(pending, final)
                published.append(final)
            elif record is None:
                pending.unlink()
                removed.append(pending)
    return Recovery(voided, published, removed)


def validity(valid_from: dt.date, valid_until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A certificate's inclusive validity days as UTC instants (start of first day, end of last)."""
    start = dt.datetime.combine(valid_from, dt.time(0), tzinfo=dt.UTC)
    end = dt.datetime.combine(valid_until, dt.time(23, 59, 59), tzinfo=dt.UTC)
    return start, end
