"""Certify a park: compute it, draft each product's certificate, render, write — all or nothing.

The one place that joins the engine and the documents, so the CLI stays thin and documents never
compute. Every input is checked (issuer, products, dates, language) before anything renders, and
files are written only once all documents rendered, each through a temporary file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from footprint import files
from footprint.park.models import ParkData, Results
from footprint.registry import certificate as certificates
from footprint.registry.issuer import Issuer, load_issuer

if TYPE_CHECKING:
    from footprint.certificates.issuing import Issued
    from footprint.certificates.keys import SigningKey
    from footprint.registry.records import Registry

Step = Callable[[str], None]


@dataclass(frozen=True)
class Written:
    path: Path
    number: str | None
    product_id: str | None
    sha256: str
    size: int


def default_lang(park: ParkData) -> str:
    """Bilingual for parks in China, English elsewhere."""
    return "zh-en" if park.park.country == "CN" else "en"


def load(park_dir: str | Path, issuer_file: str | Path | None) -> tuple[ParkData, Issuer]:
    """Issuer first (cheap, and a missing one must stop before any computing), then the park."""
    from footprint.park.loading import load_park

    issuer = load_issuer(issuer_file)
    return load_park(park_dir), issuer


def prepare(park_dir: str | Path, issuer_file: str | Path | None, step: Step = lambda _: None
            ) -> tuple[ParkData, Issuer, Results]:
    """Issuer, park and the park's results (without Monte Carlo)."""
    from footprint.engine.calculation import compute_park

    park, issuer = load(park_dir, issuer_file)
    return park, issuer, compute_park(park, step=step)


def certify(park: ParkData, issuer: Issuer, results: Results, out_dir: str | Path,
            products: Iterable[str] = (), lang: str | None = None, issue_date: date | None = None,
            step: Step = lambda _: None) -> list[Written]:
    """Render the certificates of ``products`` (default: all) and write them as ``<product>_<number>.pdf``."""
    from footprint import documents
    from footprint.certificates import document as certificate_document

    lang = lang or default_lang(park)
    if lang not in documents.LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(documents.LANGS)}")
    issue_date = issue_date or date.today()
    wanted = list(dict.fromkeys(products)) or [p.product_id for p in results.products]
    _refuse(park, results, wanted)
    drafts = [with_site(park, certificates.draft(results, pid, issuer, issue_date)) for pid in wanted]
    rendered = []
    for n, cert in enumerate(drafts, 1):
        step(f"Rendering {n}/{len(drafts)}: {cert.product_id}")
        rendered.append((cert, certificate_document.render_certificate(results, cert, lang, park.park.country,
                                                            park.park.region)))
    out = Path(out_dir)
    return [write_atomic(out / f"{cert.product_id}_{cert.number}.pdf", doc.pdf, cert.number, cert.product_id,
                         doc.sha256) for cert, doc in rendered]


def _refuse(park: ParkData, results: Results, product_ids: list[str]) -> None:
    """Stop before anything is rendered when a product cannot be certified (DESIGN §3 v2): exempted share
    above the park's limit, more than 1 % outside cradle-to-gate, fuel combustion counted twice."""
    from footprint.engine.checks import refusals
    from footprint.park.errors import ParkDataError

    problems = refusals(park, results, [p for p in product_ids if any(r.product_id == p for r in results.products)])
    if problems:
        raise ParkDataError(problems)


def summary(park: ParkData, issuer: Issuer, results: Results, out_file: str | Path, lang: str | None = None,
            issue_date: date | None = None) -> Written:
    """Render the park-wide summary table to ``out_file``."""
    from footprint.certificates import document as certificate_document

    doc = certificate_document.render_summary(results, issuer, issue_date or date.today(), lang or default_lang(park))
    return write_atomic(Path(out_file), doc.pdf, None, None, doc.sha256)


def with_site(park: ParkData, cert: certificates.Certificate) -> certificates.Certificate:
    """The draft with its producing facility's address, when the park gives one."""
    output = next(o for o in park.outputs if o.product_id == cert.product_id)
    facility = next(f for f in park.facilities if f.facility_id == output.facility_id)
    return cert.model_copy(update={"site_address": facility.address})


def write_atomic(path: Path, data: bytes, number: str | None, product_id: str | None, sha256: str) -> Written:
    """Write via a temporary file in the same folder, so a failure never leaves half a PDF."""
    files.write_atomic(path, data)
    return Written(path, number, product_id, sha256, len(data))


class NegativeTotal(ValueError):
    """A negative footprint (a net removal) is not certified as third-party verified."""


def negative_totals(results: Results, products: Iterable[str] = ()) -> list[str]:
    """``product: total kg CO2e/unit`` of each chosen product (default: all) whose total is below zero."""
    wanted = set(products)
    return [f"{p.product_id}: {p.total:.4g} kg CO2e/{p.unit}" for p in results.products
            if p.total < 0 and (not wanted or p.product_id in wanted)]


def refuse_negative(results: Results, products: Iterable[str]) -> None:
    """Raise NegativeTotal naming every chosen product with a negative total."""
    negative = negative_totals(results, products)
    if negative:
        raise NegativeTotal(f"negative total (a net removal): {'; '.join(negative)}. footprint certifies no "
                            "negative footprint as verified; issue it --self-declared, and the certificate says so")


def issue(park: ParkData, issuer: Issuer, results: Results, out_dir: str | Path, key: SigningKey,
          products: Iterable[str] = (), lang: str | None = None, issue_date: date | None = None,
          tsa_url: str | None = None, registry: Registry | None = None, step: Step = lambda _: None,
          reviews: dict[str, certificates.Review] | None = None, backdate: bool = False,
          tsa_roots: list | None = None, workers: int = 1) -> list[Issued]:
    """Sign and register each product's certificate: reserve number → render → sign → write → record.

    ``reviews`` holds each product's approving review; without them every certificate is issued
    as self-declared and says so on its face. With reviews, a negative total is refused
    (NegativeTotal); self-declared, its certificate says the total is negative and not verified.

    Each certificate is all or nothing (``certificates.issuing``); every draft is checked before the
    first number is reserved, and what killed runs left behind is recovered first. A demo key makes
    the issuer a demo issuer, so the document says DEMO. An issue date before today is refused unless
    ``backdate`` (``certify --backdate``), and is then recorded as back-dated.

    ``workers`` > 1 issues the products in that many forked processes (one per core: rendering is
    CPU-bound), each with its own registry connection and renderer, taking every ``workers``-th
    product. A failure stops its own process's share; the others finish theirs, then the first
    error is raised. The list comes back in product order either way.
    """
    from footprint import documents
    from footprint.certificates import issuing
    from footprint.registry.records import Registry as _Registry

    lang = lang or default_lang(park)
    if lang not in documents.LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(documents.LANGS)}")
    today = date.today()
    issue_date = issue_date or today
    if issue_date < today and not backdate:
        raise certificates.CertificateError(f"issue date {issue_date} is before today ({today}): back-dating a "
                                            "certificate needs --backdate, and is recorded in the registry")
    if key.demo and not issuer.demo:
        issuer = issuer.model_copy(update={"demo": True})
    wanted = list(dict.fromkeys(products)) or [p.product_id for p in results.products]
    _refuse(park, results, wanted)
    drafts = [with_site(park, certificates.draft(results, pid, issuer, issue_date)) for pid in wanted]
    if reviews is not None:
        refuse_negative(results, wanted)
    drafts = [d.model_copy(update={"review": reviews[d.product_id]} if reviews is not None else {"self_declared": True})
              for d in drafts]
    own = registry is None
    if registry is None:
        from footprint.engine import home

        registry = _Registry.open(home.resolve())
    job = _Job(park, issuer, results, Path(out_dir), key, tsa_url, tsa_roots, lang, issue_date,
               issue_date < today, drafts, registry)
    try:
        issuing.recover(registry)
        if workers > 1 and len(drafts) > 1:
            step(f"Issuing {len(drafts)} certificates in {workers} processes")
            return _in_workers(job, workers)
        signer = job.signer()
        issued: list[Issued] = []
        for n, draft in enumerate(drafts, 1):
            step(f"Issuing {n}/{len(drafts)}: {draft.product_id}")
            issued.append(job.issue_one(registry, signer, draft))
        return issued
    finally:
        if own:
            registry.close()


@dataclass(frozen=True)
class _Job:
    """What every certificate of one ``issue`` call shares (handed to forked workers as it is)."""

    park: ParkData
    issuer: Issuer
    results: Results
    out_dir: Path
    key: SigningKey
    tsa_url: str | None
    tsa_roots: list | None
    lang: str
    issue_date: date
    backdated: bool
    drafts: list[certificates.Certificate]
    registry: Registry

    def signer(self):  # noqa: ANN201 - signing.DocumentSigner
        from footprint.certificates.signing import DocumentSigner

        return DocumentSigner(self.key, self.tsa_url, tsa_roots=self.tsa_roots)

    def issue_one(self, registry: Registry, signer, draft: certificates.Certificate) -> Issued:  # noqa: ANN001
        """One certificate, all or nothing (``issuing.issue``)."""
        from footprint import documents
        from footprint.certificates import document as certificate_document
        from footprint.certificates import issuing
        from footprint.certificates.signing import SignatureBox

        results, park = self.results, self.park

        def render(reservation):  # noqa: ANN001, ANN202 - issuing.Reservation → issuing.Document
            cert = draft.model_copy(update={"number": reservation.number, "status": "active",
                                            "supersedes": tuple(registry.predecessors(results.park,
                                                                                      draft.product_id))})
            doc = certificate_document.render_certificate(results, cert, self.lang, park.park.country,
                                                          park.park.region)
            p = results.product(cert.product_id)
            valid_from, valid_until = issuing.validity(cert.valid_from, cert.valid_until)
            box = SignatureBox(doc.signature_box[0], doc.signature_box[1]) if doc.signature_box else None
            return issuing.Document(pdf=doc.pdf, data_sha256=doc.sha256, box=box, text=doc.text, facts={
                "product_id": p.product_id, "product_name": p.name, "holder": p.enterprise,
                "holder_id": p.enterprise_id, "facility": p.facility, "unit": p.unit, "total": p.total,
                "fossil": p.fossil, "biogenic": p.biogenic, "luc": p.luc,
                "primary_data_share": p.primary_data_share, "period_start": results.period.start.isoformat(),
                "period_end": results.period.end.isoformat(), "valid_from": valid_from,
                "valid_until": valid_until, "scheme": self.issuer.scheme,
                "surveillance_due": documents.moment(cert.surveillance_due) if cert.surveillance_due else None,
                "pact_json": doc.data.decode("utf-8"), "self_declared": cert.review is None,
                "review": {**cert.review.model_dump(mode="json", exclude={"entry"}), **(cert.review.entry or {})}
                if cert.review else None, "backdated": self.backdated})

        return issuing.issue(registry, signer, results.park, self.out_dir, render,
                             file_name=lambda r: f"{draft.product_id}_{r.number}.pdf",
                             year=self.issue_date.year, prefix=self.issuer.number_prefix)


_forked: list[_Job] = []  # the job a forked worker inherits (a signing key cannot be pickled, nor need be)
_forking = threading.Lock()  # one pool at a time per process, so a worker never inherits another call's job


def _in_workers(job: _Job, workers: int) -> list[Issued]:
    """Issue ``job``'s drafts in ``workers`` forked processes; in draft order, or the first error."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    shares = [share for i in range(workers) if (share := list(range(i, len(job.drafts), workers)))]
    with _forking:
        _forked[:] = [job]
        try:
            with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("fork")) as pool:
                futures = [pool.submit(_issue_share, share) for share in shares]
                outcomes = [f.exception() or f.result() for f in futures]
        finally:
            _forked.clear()
    if errors := [o for o in outcomes if isinstance(o, BaseException)]:
        raise errors[0]
    issued: dict[int, Issued] = {}
    for share, done in zip(shares, outcomes, strict=True):
        issued.update(zip(share, done, strict=True))
    return [issued[i] for i in range(len(job.drafts))]


def _issue_share(indices: list[int]) -> list[Issued]:
    """A worker: its own registry connection (the parent's stay the parent's), signer and renderer."""
    from footprint.registry.records import Registry as _Registry

    job = _forked[0]
    job.registry.engine.dispose(close=False)
    with _Registry(job.registry.url, job.registry.home) as registry:
        signer = job.signer()
        return [job.issue_one(registry, signer, job.drafts[i]) for i in indices]


def issue_reviewed(park_dir: str | Path, issuer_file: str | Path | None, out_dir: str | Path, key: SigningKey,
                   registry: Registry, products: Iterable[str] = (), lang: str | None = None,
                   issue_date: date | None = None, step: Step = lambda _: None, **options: object) -> list[Issued]:
    """Issue the certificates of products (default: all) whose current calculation a registered reviewer
    approved: the park is computed once with the approved bundle's Monte Carlo settings and each certificate
    carries its review (NotApproved names any product that may not be certified). ``options``: those of
    :func:`issue` (``tsa_url``, ``backdate``, ``tsa_roots``). What ``footprint certify`` and the issuer's
    web page both do."""
    from footprint.review.decisions import approved_results

    park, body = load(park_dir, issuer_file)
    step("Computing the park with the approved review's settings")
    wanted = list(dict.fromkeys(products)) or [o.product_id for o in park.outputs if o.kind != "waste"]
    results, reviews = approved_results(registry, Path(park_dir), park.park.id, wanted, park)
    return issue(park, body, results, out_dir, key, wanted, lang, issue_date, registry=registry, step=step,
                 reviews=reviews, **options)  # type: ignore[arg-type]
