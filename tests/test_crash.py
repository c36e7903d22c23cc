"""Crash-safe issuing (issue 15): a run killed at any step leaves nothing unexplained once recovered — every
reserved number issued or voided, no published PDF without its row, no row without its PDF — and
concurrent runs on one park wait for each other instead of failing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from test_registry import url  # noqa: F401 - fixture: SQLite and PostgreSQL

from footprint.certificates import issuing
from footprint.registry.records import Registry

TESTS = Path(__file__).parent
STEPS = ["reserved", "rendered", "signed", "written", "recorded", "published"]


def _run(url: str, out: Path, step: str, how: str) -> int:  # noqa: F811
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); from workers import issue_and_die; "
            f"issue_and_die({url!r}, {str(out)!r}, {step!r}, {how!r})")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300).returncode


def _consistent(registry: Registry, out: Path) -> None:
    """What recovery must leave: nothing pending, every file recorded with its hash, every record with its file."""
    assert [p.number for p in registry.pending()] == []
    assert list(out.glob("*.pending")) == []
    records = {r.file_name: r for r in registry.records()}
    files = {p.name: p for p in out.glob("*.pdf")}
    assert set(files) == set(records)
    for name, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == records[name].pdf_sha256
    report = registry.audit_report()
    assert report.ok, report.problems


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_is_recovered(url, tmp_path, step):  # noqa: F811
    out = tmp_path / "out"
    assert _run(url, out, step, "KILL") == -9
    with Registry(url) as registry:
        pending = registry.pending()
        if step in ("recorded", "published"):
            assert pending == []  # its issue entry is in: the number is accounted for
        else:
            assert [p.alive for p in pending] == [False]  # the reservation is orphaned and known to be
        done = issuing.recover(registry)
        recorded = [r.number for r in registry.records()]
        if step in ("recorded", "published"):
            assert len(recorded) == 1 and done.voided == []
            assert [p.name for p in done.published] == ([] if step == "published" else [recorded[0] + ".pdf"])
        else:
            assert recorded == [] and len(done.voided) == 1
            assert len(done.removed) == (1 if step == "written" else 0)
        _consistent(registry, out)
        assert issuing.recover(registry) == issuing.Recovery([], [], [])  # nothing left to do


def test_sigterm_voids_at_once(url, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    assert _run(url, out, "signed", "TERM") != 0
    with Registry(url) as registry:
        assert registry.pending() == [] and registry.records() == []  # voided by the process itself
        _consistent(registry, out)


def test_concurrent_calc_and_certify_on_one_park_all_succeed(url, tmp_path, project):  # noqa: F811
    """Three `calc` and two `certify` runs of one park at once (issue 15 saw 2–4 of 6 certify runs and every
    one of 4 calc runs fail, and the park's database left empty): each waits for the park lock."""
    import json
    import os

    from conftest import ROOT
    from parks import write_park

    park = write_park(tmp_path / "park", facilities=[{"facility_id": "mill"}],
                      outputs=[{"product_id": "bar", "facility_id": "mill", "unit": "kg", "amount": 1000}],
                      inputs=[{"facility_id": "mill", "ref": "factor:billet", "amount": 1.05, "unit": "t"}],
                      factors=[{"code": "billet", "unit": "kg", "fossil": 1.9}])
    env = {**os.environ, "FOOTPRINT_DATABASE_URL": url, "PYTHONPATH": os.pathsep.join(sys.path)}
    cli = [sys.executable, "-m", "footprint.cli.main"]
    runs = [cli + ["calc", str(park), "--json", str(tmp_path / f"calc-{i}.json")] for i in range(3)]
    runs += [cli + ["certify", str(park), "--self-declared", "--issuer", str(ROOT / "inventories" / "demo-issuer.yaml"),
                    "--out", str(tmp_path / f"certs-{i}")] for i in range(2)]
    procs = [subprocess.Popen(r, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for r in runs]
    outputs = [p.communicate(timeout=600)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, "\n".join(outputs)
    total = 1050 * 1.9 / 1000  # 1.05 t of billet at 1.9 kg CO2e/kg per 1,000 kg of bar
    for i in range(3):
        (bar,) = json.loads((tmp_path / f"calc-{i}.json").read_text())["products"]
        assert bar["total"] == pytest.approx(total, rel=1e-6)
    with Registry(url) as registry:
        records = registry.records()
        assert len(records) == 2 and len({r.number for r in records}) == 2
        assert [r.total for r in records] == pytest.approx([total, total], rel=1e-6)
        assert registry.audit_report().ok
