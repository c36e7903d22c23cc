"""``footprint verify`` per document in a running process, against verify before issue 17 in the same run.

    python benchmarks/bench_verify.py [--home DIR] [-n 5] [--rounds 3]

Not a test. In the data directory ``--home`` (default /tmp/footprint-bench-home, never your
FOOTPRINT_HOME) it issues, once, every certificate of the demo park and the demo shipment declaration
into its own registry (``<home>/bench-verify/``), then measures ``verification.verify`` (signature,
coverage, trust, number, registry, issuer, data hash, file hash, status) on each document in three
fresh processes, each verifying every document once untimed and then ``-n`` times:

- **baseline**, verify as it was before issue 17 (the same code with its changes switched off):
  the QR code decoded from 200 dpi images of whole pages, pyHanko reading a signature's hex digits,
  literal strings, object streams' headers and every other token one byte at a time, the trust roots
  parsed at every verify, certificate names prepared and compared afresh at every comparison, a new
  event loop per signature validation, the embedded files read by pypdf, the registry record checked
  with six ORM queries plus one per entry;
- **previous**, verify of main at ``PREVIOUS`` (before issue 17's fourth verify step, 2026-11-30 s5;
  18.9–21.6 ms CPU on a quiet machine at the end of s4), that revision's ``footprint`` extracted with
  ``git archive`` and imported instead of this checkout's;
- **footprint**: this checkout: the QR code decoded from its own rectangle, found among the page's
  objects and handed to zxing-cpp as pdfium rendered it in grey; pyHanko's tokens and literal strings read in one
  step, each object stream's header once per reader, the signer's certificate extracted and checked once
  per signature check; the roots and certificates parsed, names prepared and name
  comparisons remembered once per process; one event loop per thread; the embedded files read from the
  signature check's pyHanko reader; the registry record checked in one statement on a plain DB-API cursor
  (benchmarks/bench_registry_lookup.py compares it with the three SQLAlchemy Core queries before it).

It prints the median per document of wall and CPU time (``time.process_time``: the machine may be
shared), their ratio, each process's peak memory, the stages of one verify (signature checks,
embedded files, QR reading, registry lookup), and whether the issue's ≤ 20 ms per document holds.
Every verdict must be valid and every path must read the same QR code, or it exits 1. JSON goes to
benchmarks/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ISSUER = ROOT / "inventories" / "demo-issuer.yaml"
PATHS = ("baseline", "previous", "footprint")
PREVIOUS = "476e49a"  # main before issue 17's fourth verify step (2026-11-30 s5)
GOAL_MS = 20.0  # issue 17: verify ≤ 20 ms per certificate in a running process


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--home", default=os.environ.get("FOOTPRINT_BENCH_HOME", "/tmp/footprint-bench-home"),
                   help="throwaway data directory (never your real FOOTPRINT_HOME)")
    p.add_argument("-n", type=int, default=5, help="timed verifications of each document per path")
    p.add_argument("--rounds", type=int, default=1,
                   help="processes for previous and footprint each, in alternating order (baseline: one); a "
                        "document's figure is the median of its rounds' medians")
    p.add_argument("--measure", choices=(*PATHS, "interleaved"), help=argparse.SUPPRESS)  # the child's part
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

    from footprint.certificates import verification

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # as `footprint verify` does
    if path == "baseline":  # verify before issue 17: whole pages, pyHanko's hex reader, roots parsed, pypdf
        from footprint.certificates import pdf_reading

        _later_steps_off(verification)
        verification._located_codes = lambda *_args, **_kwargs: None
        pdf_reading._fast_hex_strings = lambda: None
        verification._remembered_name_preparation = lambda: None
        verification._asn1_roots = verification._asn1_roots.__wrapped__
        verification._plain_embedded_files = lambda _reader: None
    rows = []
    with _verifying(home) as (pdfs, roots, source):
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
    return {"path": path, "rows": rows, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "module": verification.__file__}


@contextlib.contextmanager
def _verifying(home: Path):  # noqa: ANN202 - yields (documents, trust roots, the registry as verify's source)
    """The benchmark's documents, the data directory's trust roots and its registry, open while in use."""
    from footprint.certificates import keys, verification
    from footprint.registry.records import Registry

    db, pdfs = documents(home)
    db = Path(os.environ.get("FOOTPRINT_BENCH_REGISTRY") or db)  # the previous path's copy (:func:`previous_registry`)
    with Registry(f"sqlite:///{db}") as registry:
        yield pdfs, keys.trust_roots(home), verification.DatabaseSource(registry)


def measure_interleaved(home: Path, n: int) -> dict:
    """In one process, each document verified with this step's shortcuts on and off alternately (``n`` times
    each, the order switching): what the step saves, free of the load's drift between processes."""
    import logging

    from footprint.certificates import pdf_reading, verification

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    rows = []
    with _verifying(home) as (pdfs, roots, source):
        for p in pdfs:
            verification.verify(p, roots, source)  # installs the shortcuts
        replaced = _this_step(verification)
        on = [getattr(owner, name) for owner, name, _ in replaced]

        def use(step_on: bool) -> None:
            for (owner, name, before), now in zip(replaced, on, strict=True):
                setattr(owner, name, now if step_on else before)
            pdf_reading._use_one_pass_reading(step_on)

        for p in pdfs:
            pdf = p.read_bytes()
            times: dict[str, list[float]] = {"off": [], "on": []}
            for i in range(2 * n):
                name = ("off", "on")[(i + (i // 2)) % 2]  # off on on off off on …
                use(name == "on")
                c = time.process_time()
                if not verification.verify(p, roots, source, pdf=pdf).valid:
                    raise SystemExit(f"{p.name}: not valid with this step {name}")
                times[name].append((time.process_time() - c) * 1000)
            rows.append({"file": p.name, **{k: statistics.median(v) for k, v in times.items()}})
        use(True)
    return {"rows": rows}


def _this_step(verification) -> list[tuple[object, str, object]]:  # noqa: ANN001 - the module
    """(where, name, what it was before) of each replacement of issue 17's fourth verify step (2026-11-30 s5):
    certificates parsed once per process, the signing-certificate attribute checked once per signature
    check, the QR code's rectangle rendered in grey; the registry lookup in one statement, signatures
    compared with the key's own, entry hashes written key by key (the previous lookup kept in
    bench_registry_lookup.py; the audit log's new indexes stay); the one-pass PDF reading is switched by
    :func:`measure_interleaved` itself."""
    import bench_registry_lookup as registry_step

    from footprint.registry import audit, seal
    from footprint.registry.records import Registry

    return [(verification, "_parsed_certificate", lambda cert: cert),
            (verification, "_signature_check", contextlib.nullcontext),
            (verification, "_rectangle", lambda page, dpi, crop: page.render(scale=dpi / 72, crop=crop)),
            (Registry, "checked", registry_step.checked_three_queries),
            (seal.Seal, "check", registry_step.verified_signature),
            (audit, "entry_hash", registry_step.json_entry_hash)]


def _later_steps_off(verification) -> None:  # noqa: ANN001 - the module
    """verify without issue 17's second and third steps: pyHanko's own tokenizer, literal strings and object
    streams, its signer's certificate extracted and checked twice, asn1crypto's own name comparison and
    hashable form (names' values still prepared once, which :func:`measure` switches off too), ``asyncio.run``
    per validation, :func:`checked_by_orm`."""
    from asn1crypto.x509 import Name
    from pyhanko.sign.validation import validate_pdf_signature

    from footprint.certificates import pdf_reading
    from footprint.registry.records import Registry

    prepare_names = verification._remembered_name_preparation

    def names_prepared_only() -> None:
        prepare_names()
        Name.__eq__, Name.hashable = verification._asn1_name_eq, verification._asn1_name_hashable

    pdf_reading._fast_pdf_objects = lambda: None
    pdf_reading._fast_whole_objects = lambda: None  # the one-pass reading (benchmarks/bench_pdf_reading.py)
    pdf_reading._fast_text_strings = lambda: None
    pdf_reading._fast_xref_streams = lambda: None
    pdf_reading._fast_object_headers = lambda: None
    verification._signer_checked_once = lambda: None
    pdf_reading._fast_pdf_tokens = lambda: None
    verification._validated = validate_pdf_signature
    verification._remembered_name_preparation = names_prepared_only
    Registry.checked = checked_by_orm


def checked_by_orm(registry, number: str):  # noqa: ANN001, ANN201 - Registry; (Record | None, problems)
    """``Registry.checked`` before issue 17's last step: ORM objects, one query per entry's link (also the
    reference tests/test_audit.py compares the three-query lookup with)."""
    from sqlalchemy import select

    from footprint.registry import audit, seal
    from footprint.registry.records import _columns, _key, _record
    from footprint.registry.schema import Certificate

    number = _key(number)
    with registry.read() as s:
        row = s.execute(select(Certificate).where(Certificate.number == number)).scalar_one_or_none()
        entries = audit.subject_entries(s, number)
        problems = audit.check_entries(s, entries, seal.load(registry.home), seal.witnessed(registry.witness))
        state = audit.replay([audit.parse(e) for e in entries])
        live = {number: _columns(row)} if row is not None else {}
        problems += audit.compare(state, {"certificates": live}) if state.rows("certificates").get(number) \
            or row is not None else []
        return (_record(row) if row else None), problems


def _pages(pdf: bytes) -> int:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()


def _child(path: str, args: argparse.Namespace, previous: Path) -> dict:
    """One path measured in a fresh process; ``previous`` imports main at :data:`PREVIOUS` (the tree ``previous``)
    and reads its own copy of the registry (:func:`previous_registry`)."""
    env = dict(os.environ, PYTHONPATH=str(previous), FOOTPRINT_BENCH_REGISTRY=str(previous / "registry.sqlite")) \
        if path == "previous" else None
    out = subprocess.run([sys.executable, __file__, "--home", args.home, "-n", str(args.n), "--measure", path],
                         capture_output=True, text=True, check=False, env=env)
    if out.returncode:
        raise SystemExit(f"the {path} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


def _combined(runs: list[dict]) -> dict:
    """One path's rounds as one run: per document, the median of the rounds' medians (wall, CPU, each stage)."""
    rows = []
    for same in zip(*(run["rows"] for run in runs), strict=True):
        row = dict(same[0])
        for key in ("wall_ms", "cpu_ms"):
            row[key] = statistics.median(r[key] for r in same)
        row["stages"] = {stage: [statistics.median(r["stages"][stage][i] for r in same) for i in (0, 1)]
                         for stage in same[0]["stages"]}
        row["valid"] = all(r["valid"] for r in same)
        row["qr"] = same[0]["qr"] if all(r["qr"] == same[0]["qr"] for r in same) else []
        rows.append(row)
    return {"path": runs[0]["path"], "rows": rows, "peak_mib": max(run["peak_mib"] for run in runs),
            "module": runs[0]["module"]}


def extract_previous(folder: Path, revision: str = PREVIOUS) -> Path:
    """``footprint`` of main at ``revision``, extracted with ``git archive`` into ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "footprint"], capture_output=True,
                             check=True).stdout
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def previous_registry(home: Path, previous: Path) -> Path:
    """A copy of the bench registry (and its witness) in ``previous``, migrated down to the newest revision
    main at :data:`PREVIOUS` knows: a registry upgraded by this checkout is refused by older code."""
    import shutil

    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from footprint.registry import seal
    from footprint.registry.records import _migrations_config

    db, _pdfs = documents(home)
    copy = previous / "registry.sqlite"
    shutil.copyfile(db, copy)
    witness = seal.witness_path(home, f"sqlite:///{db}")
    if witness.exists():
        shutil.copyfile(witness, seal.witness_path(home, f"sqlite:///{copy}"))
    head = ScriptDirectory(str(previous / "footprint" / "registry" / "migrations")).get_current_head()
    engine = create_engine(f"sqlite:///{copy}")
    with engine.begin() as conn:
        command.downgrade(_migrations_config(conn), head)
    engine.dispose()
    return copy


def report(runs: dict[str, dict], args: argparse.Namespace) -> bool:
    """The table: per document and path, median wall and CPU; the ratios of baseline and previous to footprint."""
    base, prev, fast = runs["baseline"], runs["previous"], runs["footprint"]
    print(f"\nverify per document, median of {args.n}, in a running process ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}), ms wall / CPU; baseline = verify before issue 17 (QR decoded from 200 dpi "
          f"images of whole pages), previous = main {PREVIOUS}")
    head = (f"{'document':<44} {'KiB':>4} {'pp':>2} {'baseline':>13} {'previous':>11} {'footprint':>11} "
            f"{'÷ base cpu':>10} {'÷ prev cpu':>10}")
    print(head)
    print("-" * len(head))
    for b, p, f in zip(base["rows"], prev["rows"], fast["rows"], strict=True):
        print(f"{f['file'][:44]:<44} {f['kib']:>4.0f} {f['pages']:>2} {b['wall_ms']:>6.1f} /{b['cpu_ms']:>5.1f} "
              f"{p['wall_ms']:>5.1f} /{p['cpu_ms']:>4.1f} {f['wall_ms']:>5.1f} /{f['cpu_ms']:>4.1f} "
              f"{b['cpu_ms'] / f['cpu_ms']:>9.1f}× {p['cpu_ms'] / f['cpu_ms']:>9.1f}×")
    med = {name: [statistics.median(r[k] for r in run["rows"]) for k in ("wall_ms", "cpu_ms")]
           for name, run in runs.items()}
    (bw, bc), (pw, pc), (fw, fc) = med["baseline"], med["previous"], med["footprint"]
    print(f"{'median over the documents':<52} {bw:>6.1f} /{bc:>5.1f} {pw:>5.1f} /{pc:>4.1f} {fw:>5.1f} /{fc:>4.1f} "
          f"{bc / fc:>9.1f}× {pc / fc:>9.1f}×   (wall: {bw / fw:.1f}×, {pw / fw:.1f}×)")
    print("peak memory (each path's own process): " + ", ".join(f"{name} {run['peak_mib']:.0f} MiB"
                                                                 for name, run in runs.items()))
    print("\nstages of one verify, median over the documents, ms wall / cpu:")
    for stage in fast["rows"][0]["stages"]:
        cells = []
        for name, run in runs.items():
            w, c = (statistics.median(r["stages"][stage][i] for r in run["rows"]) for i in (0, 1))
            cells.append(f"{name} {w:6.1f} / {c:5.1f}")
        print(f"  {stage:<16} " + "   ".join(cells))
    ok = all(b["valid"] and p["valid"] and f["valid"] and b["qr"] == p["qr"] == f["qr"] and f["qr"]
             for b, p, f in zip(base["rows"], prev["rows"], fast["rows"], strict=True))
    print(f"\nevery verdict valid and the same QR code read on every path: {ok}")
    print(f"goal ≤ {GOAL_MS:.0f} ms per document: CPU {'MET' if fc <= GOAL_MS else 'NOT met'} ({fc:.1f} ms), "
          f"wall {'MET' if fw <= GOAL_MS else 'NOT met'} ({fw:.1f} ms, shared machine)")
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from footprint.engine import home

    data_dir = home.activate(args.home)  # before anything imports bw2data
    if args.measure == "interleaved":
        print(json.dumps(measure_interleaved(data_dir, args.n)))
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure, data_dir, args.n)))
        return 0
    db, pdfs = documents(data_dir)
    print(f"footprint verify benchmark — data directory {data_dir}: {len(pdfs)} documents, registry {db.name}",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        previous = extract_previous(Path(tmp))
        previous_registry(data_dir, previous)
        load = os.getloadavg()[0]
        rounds: dict[str, list[dict]] = {"baseline": [_child("baseline", args, previous)], "previous": [],
                                         "footprint": []}
        for r in range(args.rounds):  # previous, footprint, footprint, previous, …: the load drifts
            for path in ("previous", "footprint") if r % 2 == 0 else ("footprint", "previous"):
                rounds[path].append(_child(path, args, previous))
        if any(not run["module"].startswith(str(previous)) for run in rounds["previous"]):
            raise SystemExit(f"the previous path imported {rounds['previous'][0]['module']}, not main {PREVIOUS}'s")
    print(f"load average at the start {load:.1f}, at the end {os.getloadavg()[0]:.1f}")
    if args.rounds > 1:
        for path in ("previous", "footprint"):
            print(f"  {path}: median CPU over the documents per round, ms: " + ", ".join(
                f"{statistics.median(row['cpu_ms'] for row in run['rows']):.1f}" for run in rounds[path]))
    interleaved = _child("interleaved", args, Path())
    runs = {path: _combined(runs_of_path) for path, runs_of_path in rounds.items()}
    ok = report(runs, args)
    off, on = (statistics.median(r[k] for r in interleaved["rows"]) for k in ("off", "on"))
    print(f"this step in one process, its shortcuts off and on alternately ({args.n} times each per document), "
          f"CPU median over the documents: off {off:.2f} ms, on {on:.2f} ms, {off / on:.3f}× ({off - on:.2f} ms "
          f"saved); load average now {os.getloadavg()[0]:.1f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench_verify-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"n": args.n, "previous": PREVIOUS, "load": os.getloadavg(), "rounds": rounds,
                               "interleaved": interleaved}, indent=1))
    print(f"JSON: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
