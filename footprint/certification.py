"""Certify a park: compute it, draft each product's certificate, render, write — all or nothing.

The one place that joins the engine and the documents, so the CLI stays thin and documents never
compute. Every input is checked (issuer, products, dates, language) before anything renders, and
files are written only once all documents rendered, each through a temporary file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from footprint import certificate as certificates
from footprint.issuer import Issuer, load_issuer
from footprint.models import ParkData, Results

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


def prepare(park_dir: str | Path, issuer_file: str | Path | None, step: Step = lambda _: None
            ) -> tuple[ParkData, Issuer, Results]:
    """Issuer first (cheap, and a missing one must stop before any computing), then the park."""
    from footprint.calculation import compute_park
    from footprint.loading import load_park

    issuer = load_issuer(issuer_file)
    park = load_park(park_dir)
    results = compute_park(park, step=step)
    return park, issuer, results


def certify(park: ParkData, issuer: Issuer, results: Results, out_dir: str | Path,
            products: Iterable[str] = (), lang: str | None = None, issue_date: date | None = None,
            step: Step = lambda _: None) -> list[Written]:
    """Render the certificates of ``products`` (default: all) and write them as ``<product>_<number>.pdf``."""
    from footprint import documents

    lang = lang or default_lang(park)
    if lang not in documents.LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(documents.LANGS)}")
    issue_date = issue_date or date.today()
    wanted = list(dict.fromkeys(products)) or [p.product_id for p in results.products]
    drafts = [certificates.draft(results, pid, issuer, issue_date) for pid in wanted]
    rendered = []
    for n, cert in enumerate(drafts, 1):
        step(f"Rendering {n}/{len(drafts)}: {cert.product_id}")
        rendered.append((cert, documents.render_certificate(results, cert, lang, park.park.country,
                                                            park.park.region)))
    out = Path(out_dir)
    return [write_atomic(out / f"{cert.product_id}_{cert.number}.pdf", doc.pdf, cert.number, cert.product_id,
                         doc.sha256) for cert, doc in rendered]


def summary(park: ParkData, issuer: Issuer, results: Results, out_file: str | Path, lang: str | None = None,
            issue_date: date | None = None) -> Written:
    """Render the park-wide summary table to ``out_file``."""
    from footprint import documents

    doc = documents.render_summary(results, issuer, issue_date or date.today(), lang or default_lang(park))
    return write_atomic(Path(out_file), doc.pdf, None, None, doc.sha256)


def write_atomic(path: Path, data: bytes, number: str | None, product_id: str | None, sha256: str) -> Written:
    """Write via a temporary file in the same folder, so a failure never leaves half a PDF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return Written(path, number, product_id, sha256, len(data))
