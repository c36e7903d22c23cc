"""``footprint verify`` per document in a running process, against verify before issue 17 in the same run.

    python benchmarks/bench_verify.py [--home DIR] [-n 5]

Not a test. In the data directory ``--home`` (default /tmp/footprint-bench-home, never your
FOOTPRINT_HOME) it issues, once, every certificate of the demo park and the demo shipment declaration
into its own registry (``<home>/bench-verify/``), then measures ``verification.verify`` (signature,
coverage, trust, number, registry, issuer, data hash, file hash, status) on each document in two
fresh processes, each verifying every document once untimed and then ``-n`` times:

- **baseline**, verify as it was before issue 17 (the same code with its five changes switched off):
  the QR code decoded from 200 dpi images of whole pages, pyHanko reading a signature's hex digits
  one by one, the trust roots parsed at every verify, certificate names prepared for comparison at
  every comparison, the embedded files read by pypdf;
- **footprint**: the QR code decoded from its own rectangle, found among the page's objects; the
  signature's hex digits read in one step; the roots parsed and names prepared once per process; the
  embedded files read from the signature check's pyHanko reader.

It prints the median per document of wall and CPU time (``time.process_time``: the machine may be
shared), their ratio, each process's peak memory, the stages of one verify (signature checks,
embedded files, QR reading, registry lookup), and whether the issue's ≤ 20 ms per document holds.
Every verdict must be valid and both paths must read the same QR code, or it exits 1. JSON goes to
benchmarks/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ISSUER = ROOT / "inventories" / "demo-issuer.yaml"
GOAL_MS = 20.0  # issue 17: verify ≤ 20 ms per certificate in a running process


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--home", default=os.environ.get("FOOTPRINT_BENCH_HOME", "/tmp/footprint-bench-home"),
                   help="throwaway data directory (never your real FOOTPRINT_HOME)")
    p.add_argument("-n", type=int, default=5, help="timed verifications of each document per path")
    p.add_argument("--measure", choices=("baseline", "footprint"), help=argparse.SUPPRESS)  # the child's part
    return p.parse_args(argv)


def documents(home: Path) -> tuple[Path, list[Path]]:
    """The registry URL's file and the issued PDFs, issued on the first run (the demo park is computed)."""
    folder = home / "bench-verify"
    done = folder / "documents.json"
    if done.exists():
        return folder / "registry.sqlite", [Path(p) for p in json.loads(done.read_text())]
    from footprint.certificates import certification, keys
    from footprint.exchange import shipment
    from footprint.registry.issuer import load_issuer
    from footprint.registry.records import Registry

    print("issuing the demo park's certificates and the demo shipment declaration (once) …", file=sys.stderr,
          flush=True)
    from footprint.engine.background import ensure_project

    ensure_project()
    folder.mkdir(parents=True, exist_ok=True)
    key = keys.default_key(home)
    park, issuer, results = certification.prepare(ROOT / "inventories" / "demo-park", ISSUER)
    with Registry(f"sqlite:///{folder / 'registry.sqlite'}") as registry:
        issued = certification.issue(park, issuer, results, folder, key, registry=registry)
        declared = shipment.declare(ROOT / "inventories" / "demo-shipment.csv", load_issuer(ISSUER), key,
                                    folder / "shipments", [folder], registry, "zh-en", date.today())
    paths = [i.path for i in issued] + [declared.path]
    done.write_text(json.dumps([str(p) for p in paths]))
    return folder / "registry.sqlite", paths


def _timed(fn, n: int, setup=lambda: None) -> tuple[float, float]:  # noqa: ANN001
    """Median wall and CPU milliseconds of ``n`` calls of ``fn(setup())``, or of ``fn()`` without ``setup``."""
    wall, cpu = [], []
    for _ in range(n):
        given = setup()
        w, c = time.perf_counter(), time.process_time()
        fn() if given is None else fn(given)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def measure(path: str, home: Path, n: int) -> dict:
    """One path's figures, in this (fresh) process."""
    import hashlib
    import logging

    from footprint.certificates import keys, verification
    from footprint.registry.records import Registry

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # as `footprint verify` does
    if path == "baseline":  # verify before issue 17: whole pages, pyHanko's hex reader, roots parsed, pypdf
        verification.located_qr_payloads = lambda *_args, **_kwargs: None
        verification._fast_hex_strings = lambda: None
        verification._remembered_name_preparation = lambda: None
        verification._asn1_roots = verification._asn1_roots.__wrapped__
        verification._plain_embedded_files = lambda _reader: None
    db, pdfs = documents(home)
    roots = keys.trust_roots(home)
    rows = []
    with Registry(f"sqlite:///{db}") as registry:
        source = verification.DatabaseSource(registry)
        for p in pdfs:
            pdf = p.read_bytes()
            verdict = verification.verify(p, roots, source, pdf=pdf)  # untimed: the process warms up
            embedded = {hashlib.sha256(b).hexdigest() for b in verification.embedded_files(pdf).values()}
            qr = verification.document_qr_payloads(pdf, embedded)
            own = [q for q in qr if verification.parse_payload(q)[1] in embedded]
            wall, cpu = _timed(lambda p=p, pdf=pdf: verification.verify(p, roots, source, pdf=pdf), n)
            stages = {
                "signature": _timed(lambda pdf=pdf: verification._check_signature(
                    pdf, roots, verification.Verdict("x"), datetime.now(UTC)), n),
                # as verify reads them: after the signature check, from its pyHanko reader when they are plain
                "embedded files": _timed(lambda parsed, pdf=pdf: verification.embedded_files(pdf, parsed), n,
                                         lambda pdf=pdf: verification._check_signature(
                                             pdf, roots, verification.Verdict("x"), datetime.now(UTC))),
                "QR code": _timed(lambda pdf=pdf, e=embedded: verification.document_qr_payloads(pdf, e), n),
                "registry": _timed(lambda v=verdict: source.lookup(v.number), n),
            }
            rows.append({"file": p.name, "kib": len(pdf) / 1024, "pages": _pages(pdf), "valid": verdict.valid,
                         "reasons": verdict.reasons, "qr": own[:1], "wall_ms": wall, "cpu_ms": cpu, "stages": stages})
    return {"path": path, "rows": rows, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _pages(pdf: bytes) -> int:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()


def _child(path: str, args: argparse.Namespace) -> dict:
    out = subprocess.run([sys.executable, __file__, "--home", args.home, "-n", str(args.n), "--measure", path],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"the {path} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


def report(base: dict, fast: dict, args: argparse.Namespace) -> bool:
    rows = list(zip(base["rows"], fast["rows"], strict=True))
    print(f"\nverify per document, median of {args.n}, in a running process ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}); baseline = verify before issue 17 (QR decoded from 200 dpi images of whole "
          "pages)")
    head = (f"{'document':<44} {'KiB':>5} {'pp':>3} {'baseline wall':>13} {'cpu':>6} {'footprint wall':>14} "
            f"{'cpu':>6} {'× wall':>7} {'× cpu':>6}")
    print(head)
    print("-" * len(head))
    for b, f in rows:
        print(f"{f['file'][:44]:<44} {f['kib']:>5.0f} {f['pages']:>3} {b['wall_ms']:>13.1f} {b['cpu_ms']:>6.1f} "
              f"{f['wall_ms']:>14.1f} {f['cpu_ms']:>6.1f} {b['wall_ms'] / f['wall_ms']:>6.1f}× "
              f"{b['cpu_ms'] / f['cpu_ms']:>5.1f}×")
    bw, bc = (statistics.median(r[k] for r in base["rows"]) for k in ("wall_ms", "cpu_ms"))
    fw, fc = (statistics.median(r[k] for r in fast["rows"]) for k in ("wall_ms", "cpu_ms"))
    print(f"{'median over the documents':<54} {bw:>13.1f} {bc:>6.1f} {fw:>14.1f} {fc:>6.1f} {bw / fw:>6.1f}× "
          f"{bc / fc:>5.1f}×")
    print(f"peak memory (each path's own process): baseline {base['peak_mib']:.0f} MiB, footprint "
          f"{fast['peak_mib']:.0f} MiB")
    print("\nstages of one verify, median over the documents, ms wall / cpu:")
    for name in fast["rows"][0]["stages"]:
        b = [statistics.median(r["stages"][name][i] for r in base["rows"]) for i in (0, 1)]
        f = [statistics.median(r["stages"][name][i] for r in fast["rows"]) for i in (0, 1)]
        print(f"  {name:<16} baseline {b[0]:7.1f} / {b[1]:6.1f}   footprint {f[0]:7.1f} / {f[1]:6.1f}")
    ok = all(b["valid"] and f["valid"] and b["qr"] == f["qr"] and f["qr"] for b, f in rows)
    print(f"\nevery verdict valid and the same QR code read on both paths: {ok}")
    print(f"goal ≤ {GOAL_MS:.0f} ms per document: CPU {'MET' if fc <= GOAL_MS else 'NOT met'} ({fc:.1f} ms), "
          f"wall {'MET' if fw <= GOAL_MS else 'NOT met'} ({fw:.1f} ms, shared machine)")
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from footprint.engine import home

    data_dir = home.activate(args.home)  # before anything imports bw2data
    if args.measure:
        print(json.dumps(measure(args.measure, data_dir, args.n)))
        return 0
    db, pdfs = documents(data_dir)
    print(f"footprint verify benchmark — data directory {data_dir}: {len(pdfs)} documents, registry {db.name}",
          flush=True)
    base = _child("baseline", args)
    fast = _child("footprint", args)
    ok = report(base, fast, args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench_verify-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"n": args.n, "baseline": base, "footprint": fast}, indent=1))
    print(f"JSON: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
