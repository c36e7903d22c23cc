"""One Dask task per park: calc, review or certify it on a worker, and gather the batch.

A task never raises for a park's own fault: invalid data comes back as the located problems and
any other failure as its message, so one bad park does not stop the others. A worker that dies
mid-park (killed, out of memory) is the scheduler's business: it reruns the park's task on
another worker. Certify is safe to rerun: a product that already has an active certificate
issued since the batch began (an audit ``issue`` entry after the batch's first sequence number)
is not issued again, so a lost worker never causes a duplicate certificate.

Paths (park folders, the output folder, keys, the issuer file) must be the same on every worker
(one machine, or a shared filesystem); the registry is the one database at ``registry_url``.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from footprint.engine import home

Command = Literal["calc", "review", "certify"]
SEEDED = ".seeded-from"  # marks a worker data directory whose Brightway project was copied in full


@dataclass(frozen=True)
class Job:
    """What a worker needs to run one park; plain values only (it crosses the network)."""

    command: Command
    park_dir: str
    out_dir: str
    workers_root: str | None = None  # LocalCluster: worker data directories go here, one per worker name
    template: str | None = None  # data directory whose Brightway project (and background cache) workers copy
    iterations: int = 1000
    seed: int = 0
    day: date | None = None  # review report date, certificate issue date
    backdate: bool = False  # allow a certificate issue date before today (recorded as back-dated)
    lang: str | None = None
    issuer: str | None = None
    key: str | None = None  # signing key file; None: the demo key of ``key_home``
    cert: str | None = None
    key_home: str | None = None
    tsa: str | None = None
    registry_url: str | None = None
    self_declared: bool = False
    since_seq: int = 0  # audit log sequence number before the batch began


@dataclass
class Outcome:
    """A park's result, as the summary table shows it."""

    park_dir: str
    ok: bool
    park: str | None = None
    products: int = 0
    seconds: float = 0.0
    worker: str = ""
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # located data problems, one per line
    error: str | None = None
    results_json: str | None = None  # calc: the park's results (DESIGN §4), written by the client
    certificates: list[tuple[str, str, str]] = field(default_factory=list)  # (product, number, file)
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # issued by an earlier attempt of this batch


_one_park_at_a_time = threading.Lock()  # bw2data is not thread-safe; a worker with more threads still queues


def run_park(job: Job) -> Outcome:
    """Run one park on this worker (the Dask task); never raises for a park's own fault."""
    from distributed import get_worker

    worker = get_worker()
    started = time.perf_counter()
    outcome = Outcome(job.park_dir, ok=False, worker=str(worker.name))
    with _one_park_at_a_time:
        try:
            _activate(job, str(worker.name))
            {"calc": _calc, "review": _review, "certify": _certify}[job.command](job, outcome)
            outcome.ok = True
        except Exception as e:  # noqa: BLE001 - reported per park; the batch goes on
            from footprint.park.errors import ParkDataError

            if isinstance(e, ParkDataError):
                outcome.problems = [str(p) for p in e.problems]
            else:
                outcome.error = f"{type(e).__name__}: {e}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def _activate(job: Job, worker: str) -> None:
    """Point this worker process at its own data directory (seeded from the template once)."""
    if job.workers_root is None:
        path = home.activate()  # a worker of a real cluster: its own FOOTPRINT_HOME
    else:
        path = home.resolve(Path(job.workers_root) / f"worker-{worker}")
        if job.template:
            seed_data_directory(Path(job.template), path)
        home.activate(path)
    from footprint.engine.background import ensure_project

    ensure_project()


def seed_data_directory(template: Path, target: Path) -> None:
    """Copy the template's Brightway project and background cache into ``target`` once.

    The background is set up (or imported, or generated) once, in the template, and every worker
    starts from a copy; a copy cut short by a dying worker is redone, never half used.
    """
    marker = target / SEEDED
    if marker.exists() or not (template / "brightway").is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    for name in ("brightway", "cache"):
        source, dest = template / name, target / name
        if not source.is_dir():
            continue
        part = target / f"{name}.part"
        shutil.rmtree(part, ignore_errors=True)
        shutil.copytree(source, part, ignore=shutil.ignore_patterns("*.lock", "*-journal", "*.part"))
        shutil.rmtree(dest, ignore_errors=True)
        part.rename(dest)
    marker.write_text(str(template), encoding="utf-8")


def _calc(job: Job, outcome: Outcome) -> None:
    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park

    results = compute_park(load_park(job.park_dir))
    outcome.park, outcome.products = results.park, len(results.products)
    outcome.results_json = results.model_dump_json(indent=2)


def _review(job: Job, outcome: Outcome) -> None:
    from footprint.review.decisions import run_review

    done = run_review(Path(job.park_dir), Path(job.out_dir), [], job.iterations, job.seed, job.day or date.today())
    outcome.park, outcome.products = done.results.park, len(done.results.products)
    outcome.files = [str(done.html), str(done.pdf), str(done.bundle)]


def _certify(job: Job, outcome: Outcome) -> None:
    from footprint.certificates import certification, keys
    from footprint.registry.records import Registry

    key = keys.load(Path(job.key), cert_path=Path(job.cert) if job.cert else None) if job.key else \
        keys.default_key(Path(job.key_home or home.resolve()))
    # the registry's audit key and witness are those of the data directory that started the batch
    with Registry.open(Path(job.key_home) if job.key_home else home.resolve(), job.registry_url) as registry:
        if job.self_declared:
            park, body, results = certification.prepare(job.park_dir, job.issuer)
            reviews = None
        else:
            from footprint.review.decisions import approved_results

            park, body = certification.load(job.park_dir, job.issuer)
            wanted = [o.product_id for o in park.outputs]
            results, reviews = approved_results(registry, Path(job.park_dir), park.park.id, wanted, park)
        outcome.park, outcome.products = results.park, len(results.products)
        kept = issued_since(registry, results.park, job.since_seq)
        outcome.kept = [(pid, number, str(Path(job.out_dir) / f"{pid}_{number}.pdf")) for pid, number in kept.items()]
        todo = [p.product_id for p in results.products if p.product_id not in kept]
        if todo:
            issued = certification.issue(park, body, results, job.out_dir, key, todo, job.lang, job.day,
                                         tsa_url=job.tsa, registry=registry, reviews=reviews,
                                         backdate=job.backdate)
            outcome.certificates = [(i.record.product_id, i.record.number, str(i.path)) for i in issued]
    outcome.files = [f for _, _, f in outcome.kept + outcome.certificates]


def issued_since(registry, park: str, since_seq: int) -> dict[str, str]:  # noqa: ANN001 - records.Registry
    """Number of each product of ``park`` with an active certificate issued after audit entry ``since_seq``."""
    from sqlalchemy import select

    from footprint.registry.schema import AuditEntry, Certificate

    with registry.read() as s:
        rows = s.execute(select(Certificate.product_id, Certificate.number)
                         .join(AuditEntry, AuditEntry.subject == Certificate.number)
                         .where(AuditEntry.action == "issue", AuditEntry.seq > since_seq,
                                Certificate.park == park, Certificate.status == "active")).all()
        return dict(rows)


def audit_head(registry) -> int:  # noqa: ANN001 - registry.records.Registry
    """The last audit log sequence number (0 for an empty log): where a batch begins."""
    from sqlalchemy import func, select

    from footprint.registry.schema import AuditEntry

    with registry.read() as s:
        return s.execute(select(func.max(AuditEntry.seq))).scalar() or 0


def run_batch(client, jobs: Sequence[Job], done: Callable[[Outcome], None] = lambda _: None  # noqa: ANN001
              ) -> list[Outcome]:
    """Run every job on the client's cluster; ``done`` sees each outcome as it arrives.

    Calc results are written here, by the client, as ``<park id>-results.json``. A task lost with
    its worker is rerun by the scheduler (up to its ``allowed-failures``); one that still fails is
    reported like any other failed park.
    """
    from distributed import as_completed

    from footprint.files import write_atomic

    batch = uuid.uuid4().hex[:8]
    futures = {client.submit(run_park, job, key=f"{job.command}-{n}-{Path(job.park_dir).name}-{batch}",
                             pure=False): n for n, job in enumerate(jobs)}
    outcomes: list[Outcome | None] = [None] * len(jobs)
    for future in as_completed(futures):
        n = futures[future]
        try:
            outcome = future.result()
        except Exception as e:  # noqa: BLE001 - e.g. KilledWorker: the park failed, the batch goes on
            outcome = Outcome(jobs[n].park_dir, ok=False, error=f"{type(e).__name__}: {e}")
        if outcome.ok and outcome.results_json is not None:
            path = Path(jobs[n].out_dir) / f"{outcome.park}-results.json"
            write_atomic(path, outcome.results_json.encode("utf-8"))
            outcome.files, outcome.results_json = [str(path)], None
        outcomes[n] = outcome
        done(outcome)
    return outcomes  # type: ignore[return-value]


def park_ids(park_dirs: Sequence[Path]) -> dict[Path, str | None]:
    """Each folder's park id as its park.yaml states it (None when unreadable: the worker will say why)."""
    import yaml

    ids: dict[Path, str | None] = {}
    for folder in park_dirs:
        try:
            with open(folder / "park.yaml", encoding="utf-8") as fh:
                data = yaml.safe_load(fh.read(1_000_000))
            ids[folder] = str(data["id"]) if isinstance(data, dict) and "id" in data else None
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            ids[folder] = None
    return ids
