"""Batch runs on a LocalCluster of 2 worker processes: same results as one process, same Monte Carlo
numbers for a seed, and a worker killed mid-batch loses nothing and duplicates no certificate."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from parks import write_park
from typer.testing import CliRunner

from footprint.batch.cluster import connect, monte_carlo_on
from footprint.batch.parks import Job, audit_head, run_batch
from footprint.engine import uncertainty

pytest.importorskip("distributed", reason="dask[distributed] is a dependency: pip install -e . to get it")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def two_products(folder: Path, park_id: str, amount: float = 100) -> Path:
    """pa: 200 kg of factor x (2 kg CO2e/kg) per 100 kg, plus 1 kg of pb; pb: 30 kg pa + 5 kg CO2 per 10 kg."""
    return write_park(
        folder, park={"id": park_id},
        facilities=[{"facility_id": "a"}, {"facility_id": "b"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": amount},
                 {"product_id": "pb", "facility_id": "b", "unit": "kg", "amount": 10}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 200, "unit": "kg", "data_type": "primary"},
                {"facility_id": "b", "ref": "pa", "amount": 30, "unit": "kg", "data_type": "primary"},
                {"facility_id": "a", "ref": "pb", "amount": 1, "unit": "kg", "data_type": "primary"}],
        emissions=[{"facility_id": "b", "flow": "CO2", "amount": 5}],
        factors=[{"code": "x", "unit": "kg", "fossil": 2.0, "dqr": 1}],
    )


def by_hand(amount: float) -> tuple[float, float]:
    """The loop pa ↔ pb solved by hand: pa = 400/a + pb/a, pb = 3·pa + 0.5."""
    pa = (400 / amount + 0.5 / amount) / (1 - 3 / amount)
    return pa, 3 * pa + 0.5


def test_batch_calc_equals_single_process_and_reports_a_bad_park(tmp_path, project):
    """`footprint batch calc` on 2 workers: each results file is byte for byte what `footprint calc --json`
    writes in one process; a park with a bad row is reported with its location and stops nothing."""
    from footprint.cli.main import app

    parks = [two_products(tmp_path / "parks" / f"p{n}", f"batch-calc-{n}", amount) for n, amount in
             enumerate((100, 250, 40))]
    bad = write_park(tmp_path / "parks" / "bad", park={"id": "batch-calc-bad"},
                     facilities=[{"facility_id": "a"}],
                     outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 1}],
                     inputs=[{"facility_id": "a", "ref": "factor:x", "amount": "lots", "unit": "kg"}],
                     factors=[{"code": "x", "unit": "kg", "fossil": 3.0}])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", "calc", *map(str, parks[:2]), str(bad), str(parks[2]),
                                      "--out", str(out), "--workers", "2"])
    assert result.exit_code == 2, result.output
    assert "inputs.csv" in result.output and "row 2" in result.output and "amount" in result.output
    assert "3 of 4 park(s) done" in result.output
    assert sorted(p.name for p in out.iterdir()) == [f"batch-calc-{n}-results.json" for n in range(3)]
    for n, folder in enumerate(parks):
        single = tmp_path / f"single-{n}.json"
        assert CliRunner().invoke(app, ["calc", str(folder), "--json", str(single)]).exit_code == 0
        assert (out / f"batch-calc-{n}-results.json").read_bytes() == single.read_bytes()
    import json

    for n, amount in enumerate((100, 250, 40)):
        got = {p["product_id"]: p["total"] for p in json.loads((out / f"batch-calc-{n}-results.json").read_text())[
            "products"]}
        pa, pb = by_hand(amount)
        assert got["pa"] == pytest.approx(pa, rel=1e-6) and got["pb"] == pytest.approx(pb, rel=1e-6)


@pytest.fixture(scope="module")
def client():
    with connect(None, 2) as c:
        yield c


@pytest.fixture(scope="module")
def workers_root(tmp_path_factory) -> str:
    """The worker data directories of the module's cluster: a worker process imports bw2data once, at
    its first data directory, so every test on the same cluster must give the same root."""
    return str(tmp_path_factory.mktemp("workers"))


def test_monte_carlo_same_numbers_on_one_process_and_two_workers(tmp_path, project, client):
    """The same seed gives identical distributions in one process and with chunks spread over 2 workers,
    and both are the draws of SeedSequence(seed).spawn(k), chunk by chunk, recomputed here with numpy."""
    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park

    loop = load_park(two_products(tmp_path / "loop", "batch-mc-loop"))
    here = compute_park(loop, iterations=600, seed=11)
    with uncertainty.running(monte_carlo_on(client)):
        spread = compute_park(loop, iterations=600, seed=11)
    assert [p.uncertainty for p in here.products] == [p.uncertainty for p in spread.products]
    assert len({w for w in client.scheduler_info()["workers"]}) == 2

    single = load_park(write_park(
        tmp_path / "one", park={"id": "batch-mc-one"}, facilities=[{"facility_id": "a"}],
        outputs=[{"product_id": "pa", "facility_id": "a", "unit": "kg", "amount": 1}],
        inputs=[{"facility_id": "a", "ref": "factor:x", "amount": 1, "unit": "kg", "data_type": "secondary"}],
        factors=[{"code": "x", "unit": "kg", "fossil": 3.0, "dqr": 3}]))
    with uncertainty.running(monte_carlo_on(client)):
        u = compute_park(single, iterations=600, seed=5).products[0].uncertainty
    # by hand: secondary row (basic 1.05; pedigree 1.2, 1.05, 1, 1, 1), DQR-3 factor (1.2, 1.1, 1.2, 1.02, 1.5)
    s_row = math.sqrt(math.log(1.05) ** 2 + math.log(1.2) ** 2 + math.log(1.05) ** 2) / 2
    s_fac = math.sqrt(sum(math.log(f) ** 2 for f in (1.2, 1.1, 1.2, 1.02, 1.5))) / 2
    draws = []
    for size, seq in zip((250, 250, 100), np.random.SeedSequence(5).spawn(3)):  # 600 = 250 + 250 + 100
        rng = np.random.default_rng(seq)
        for _ in range(size):
            row, fac = math.exp(rng.normal(0.0, s_row)), math.exp(rng.normal(0.0, s_fac))
            draws.append(3.0 * row * fac)
    draws = np.array(draws)
    assert u.mean == pytest.approx(draws.mean(), rel=1e-12)
    assert u.median == pytest.approx(np.median(draws), rel=1e-12)
    assert (u.p2_5, u.p97_5) == pytest.approx((np.percentile(draws, 2.5), np.percentile(draws, 97.5)), rel=1e-12)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path) -> str:
    """The one registry the workers issue through: SQLite on one machine, PostgreSQL for a cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    from test_registry import _postgres_url

    return _postgres_url()


def test_killed_worker_loses_nothing_and_duplicates_no_certificate(tmp_path, project, client, registry_url,
                                                                     workers_root):
    """A worker killed (SIGKILL) after its park's first certificate: the scheduler reruns the park on a
    fresh worker, which keeps the certificate already issued and issues the other; one per product."""
    from footprint.registry.records import Registry

    parks = [write_park(
        tmp_path / "parks" / f"kill-{n}", park={"id": f"batch-kill-{n}"},
        facilities=[{"facility_id": f"f{i}"} for i in range(2)],
        outputs=[{"product_id": f"p{i}", "facility_id": f"f{i}", "unit": "kg", "amount": 10 + i} for i in range(2)],
        inputs=[{"facility_id": f"f{i}", "ref": "factor:x", "amount": 5, "unit": "kg"} for i in range(2)],
        factors=[{"code": "x", "unit": "kg", "fossil": 2.0}]) for n in range(3)]
    url = registry_url
    with Registry(url) as registry:
        since = audit_head(registry)
    out = tmp_path / "out"
    jobs = [Job("certify", str(p), str(out), workers_root=workers_root, template=str(project),
                day=date(2026, 3, 1), lang="en", issuer=str(ROOT / "inventories" / "demo-issuer.yaml"),
                key_home=str(project), registry_url=url, self_declared=True, backdate=True, since_seq=since)
            for p in parks]
    from footprint.certificates import keys

    keys.default_key(project)  # the demo key, made once before the workers read it
    killed: dict = {}
    finished = threading.Event()

    def kill_first_issuer() -> None:
        with Registry(url) as registry:
            deadline = time.time() + 300
            while time.time() < deadline and not killed and not finished.is_set():
                for record in registry.records():
                    for address, tasks in client.processing().items():
                        if any(record.park.replace("batch-", "") in str(t) for t in tasks):
                            pid = client.run(os.getpid, workers=[address])[address]
                            killed.update(park=record.park, address=address, pid=pid, number=record.number)
                            os.kill(pid, signal.SIGKILL)
                            return
                time.sleep(0.05)

    watcher = threading.Thread(target=kill_first_issuer)
    watcher.start()
    try:
        outcomes = run_batch(client, jobs)
    finally:
        finished.set()
        watcher.join()
    assert killed, ("no worker was caught mid-park", [o.error for o in outcomes if not o.ok])
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    with Registry(url) as registry:
        records = [r for r in registry.records() if r.park.startswith("batch-kill-")]
        assert registry.audit_report().ok
    assert sorted((r.park, r.product_id) for r in records) == [(f"batch-kill-{n}", f"p{i}") for n in range(3)
                                                               for i in range(2)]
    assert all(r.status == "active" for r in records)
    for r in records:
        assert (out / f"{r.product_id}_{r.number}.pdf").is_file()
    rerun = next(o for o in outcomes if o.park == killed["park"])
    assert killed["number"] in [number for _, number, _ in rerun.kept]


def test_batch_certify_resumes_without_reissuing(tmp_path, project, monkeypatch):
    """`footprint batch certify` issues every product once; rerun with --resume N (the audit entry it began
    after) it keeps those certificates and issues nothing; a cluster with a SQLite registry is refused."""
    import re

    from footprint.cli.main import app
    from footprint.registry.records import Registry

    monkeypatch.setenv("FOOTPRINT_DATABASE_URL", f"sqlite:///{tmp_path / 'registry.sqlite'}")
    park = two_products(tmp_path / "park", "batch-certify")
    common = ["--out", str(tmp_path / "out"), "--issuer", str(ROOT / "inventories" / "demo-issuer.yaml"),
              "--issue-date", "2026-03-01", "--backdate", "--lang", "en", "--self-declared"]
    refused = CliRunner().invoke(app, ["batch", "certify", str(park), *common, "--scheduler", "tcp://127.0.0.1:9"])
    assert refused.exit_code == 2 and "FOOTPRINT_DATABASE_URL=postgresql" in refused.output
    first = CliRunner().invoke(app, ["batch", "certify", str(park), *common, "--workers", "1"])
    assert first.exit_code == 0, first.output
    since = int(re.search(r"batch after audit entry (\d+)", first.output).group(1))
    again = CliRunner().invoke(app, ["batch", "certify", str(park), *common, "--workers", "1", "--resume", str(since)])
    assert again.exit_code == 0, again.output
    assert again.output.count("(kept: issued earlier in this batch)") == 2
    with Registry.open(project) as registry:
        records = [r for r in registry.records() if r.park == "batch-certify"]
    assert sorted(r.product_id for r in records) == ["pa", "pb"]
    assert all(r.status == "active" for r in records)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{r.product_id}_{r.number}.pdf"
                                                                         for r in records)
