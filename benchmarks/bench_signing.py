"""Signing and verifying cost per certificate, and certificates per second end to end.

    python benchmarks/bench_signing.py [PARK_DIR] [-n 30] [--workers 2] [--home DIR]

1. Signing (median ms of ``-n`` signatures of one demo-park certificate, RSA-3072, PAdES B-B):
   footprint's ``DocumentSigner`` (parsed key kept, placeholder size reserved) against the
   baseline of pyHanko's stock ``SimpleSigner`` with no ``bytes_reserved`` (key re-parsed at every
   signature, plus a dry-run signature to size the placeholder).
2. Verifying (median ms): the signature checks alone (pyHanko validation + coverage + trust), and
   the full ``footprint verify`` (adds the QR code decoded from its rectangle of the page, the embedded
   file's hash and the registry lookup; ``bench_verify.py`` compares it with today's whole-page reading).
3. End to end, calculate → render → sign → record for every product of the park into a fresh
   SQLite registry: one process, and a process pool of ``--workers`` issuing disjoint products into
   the same registry (the calculation, one solve for the park, is done once and counted in both).

Runs in ``<--home>/signing`` (emptied first) or a new temporary data directory; nothing is written to
the user's home or the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ISSUER = ROOT / "inventories" / "demo-issuer.yaml"
ISSUE = date(2026, 3, 1)


def _median_ms(fn, n: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _issue_part(park_json: str, results_json: str, products: list[str], out: str, url: str, home: str) -> int:
    """A pool worker: render, sign and record some products (no Brightway in this process)."""
    os.environ["FOOTPRINT_HOME"] = home
    from footprint.certificates import certification, keys
    from footprint.park.models import ParkData, Results
    from footprint.registry.issuer import load_issuer
    from footprint.registry.records import Registry

    park, results = ParkData.model_validate_json(park_json), Results.model_validate_json(results_json)
    with Registry(url) as registry:
        issued = certification.issue(park, load_issuer(ISSUER), results, out, keys.default_key(Path(home)),
                                     products, issue_date=ISSUE, registry=registry, backdate=True)
    return len(issued)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("park", nargs="?", default=str(ROOT / "inventories" / "demo-park"))
    parser.add_argument("-n", type=int, default=30, help="repetitions for the per-document medians")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--home", help="data directory: the run works in <home>/signing, emptied first "
                                       "(default: a new temporary directory)")
    args = parser.parse_args()

    if args.home:
        home = Path(args.home).resolve() / "signing"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
    else:
        home = Path(tempfile.mkdtemp(prefix="footprint-bench-signing-"))
    os.environ["FOOTPRINT_HOME"] = str(home)
    from footprint.engine import home as data_home

    data_home.activate(home)
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from footprint.certificates import certification, keys, signing, verification
    from footprint.certificates import document as certificate_document
    from footprint.registry.certificate import draft
    from footprint.registry.issuer import load_issuer
    from footprint.registry.records import Registry

    key = keys.default_key(home)
    print(f"footprint signing benchmark — {Path(args.park).name}, key RSA-{key.private_key.key_size}, "
          f"n={args.n}, {os.cpu_count()} CPUs", flush=True)

    # ---- 3 first (it also gives the document for 1 and 2) ----
    t0 = time.perf_counter()
    park, issuer, results = certification.prepare(args.park, ISSUER)
    calc = time.perf_counter() - t0
    n_products = len(results.products)
    out1 = home / "single"
    t = time.perf_counter()
    with Registry(f"sqlite:///{home / 'single.sqlite'}") as reg:
        issued = certification.issue(park, issuer, results, out1, key, issue_date=ISSUE, registry=reg, backdate=True)
    single = time.perf_counter() - t
    assert len(issued) == n_products

    ids = [p.product_id for p in results.products]
    parts = [ids[i::args.workers] for i in range(args.workers)]
    url = f"sqlite:///{home / 'pool.sqlite'}"
    Registry(url).close()
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        done = sum(pool.map(_issue_part, [park.model_dump_json()] * args.workers,
                            [results.model_dump_json()] * args.workers, parts,
                            [str(home / "pool")] * args.workers, [url] * args.workers, [str(home)] * args.workers))
    pooled = time.perf_counter() - t
    assert done == n_products

    # ---- 1 signing ----
    issuer_demo = load_issuer(ISSUER)
    cert = draft(results, ids[0], issuer_demo, ISSUE).model_copy(update={"number": "FP-BENCH-2026-00001-0"})
    doc = certificate_document.render_certificate(results, cert)
    box = signing.SignatureBox(doc.signature_box[0], doc.signature_box[1])
    fast = signing.DocumentSigner(key)
    stock_signer = signers.SimpleSigner.load_pkcs12(str(keys.ensure_demo(home).signer), passphrase=None)
    assert stock_signer is not None
    _ = SimpleCertificateStore

    def stock() -> None:
        w = IncrementalPdfFileWriter(io.BytesIO(doc.pdf), strict=False)
        signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="Sig"), signer=stock_signer, output=io.BytesIO())

    sign_fast = _median_ms(lambda: fast.sign(doc.pdf, box), args.n)
    sign_stock = _median_ms(stock, max(5, args.n // 3))

    # ---- 2 verifying ----
    pdf_path = sorted(out1.glob("*.pdf"))[0]
    pdf = pdf_path.read_bytes()
    roots = keys.trust_roots(home)
    with Registry(f"sqlite:///{home / 'single.sqlite'}") as reg:
        source = verification.DatabaseSource(reg)
        verdict = verification.verify(pdf_path, roots, source, pdf=pdf)
        assert verdict.valid, verdict.reasons

        def sig_only() -> None:
            v = verification.Verdict(str(pdf_path))
            verification._check_signature(pdf, roots, v, None)
            assert all(c.ok for c in v.checks)

        verify_sig = _median_ms(sig_only, args.n)
        verify_full = _median_ms(lambda: verification.verify(pdf_path, roots, source, pdf=pdf), args.n)
        embedded = {hashlib.sha256(b).hexdigest() for b in verification.embedded_files(pdf).values()}
        qr = _median_ms(lambda: verification.document_qr_payloads(pdf, embedded), args.n)

    print(f"\nsigning, median per document ({len(doc.pdf) / 1024:.0f} KiB certificate):")
    print(f"  footprint DocumentSigner (kept key, reserved size) {sign_fast:8.1f} ms")
    print(f"  baseline: pyHanko SimpleSigner, no bytes_reserved  {sign_stock:8.1f} ms  "
          f"({sign_stock / sign_fast:.0f}× slower)")
    print("verifying, median per document:")
    print(f"  signature, coverage and trust only                 {verify_sig:8.1f} ms")
    print(f"  full footprint verify (+ QR decode, hashes, registry) {verify_full:6.1f} ms"
          f"  (of which QR decode {qr:.0f} ms)")
    print(f"end to end, {n_products} certificates (calculation once: {calc:.1f} s incl. Brightway set-up):")
    print(f"  single process  render+sign+record {single:6.1f} s → {n_products / single:5.2f} certificates/s; "
          f"with calculation {n_products / (calc + single):5.2f}/s")
    print(f"  pool of {args.workers}       render+sign+record {pooled:6.1f} s → {n_products / pooled:5.2f} "
          f"certificates/s; with calculation {n_products / (calc + pooled):5.2f}/s (each worker starts its renderer)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
