"""Calculation bundles: deterministic, tamper-evident, and recomputed exactly in a fresh directory."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from parks import write_park

from footprint.review import bundle


@pytest.fixture
def park(tmp_path, project):
    return write_park(
        tmp_path / "park",
        facilities=[{"facility_id": "steam"}, {"facility_id": "pv"}],
        outputs=[{"product_id": "heat", "facility_id": "steam", "unit": "GJ", "amount": 100},
                 {"product_id": "power", "facility_id": "pv", "unit": "kWh", "amount": 1000}],
        inputs=[{"facility_id": "steam", "ref": "power", "amount": 200, "unit": "kWh", "data_type": "primary"},
                {"facility_id": "steam", "ref": "bg:electricity-cn-east", "amount": 3, "unit": "MWh"},
                {"facility_id": "pv", "ref": "heat", "amount": 2, "unit": "GJ"}],
        emissions=[{"facility_id": "steam", "flow": "CO2", "amount": 5600, "kind": "combustion"}],
    )


def test_recompute_agrees_and_bundle_is_deterministic(park, tmp_path):
    digest, results = bundle.create(park, tmp_path / "a.zip", iterations=50, seed=3)
    digest_again, _ = bundle.create(park, tmp_path / "b.zip", iterations=50, seed=3)
    assert digest == digest_again == bundle.bundle_hash(tmp_path / "a.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert {"park/inputs.csv", "background/open-factors.csv", "method.json", "environment.json",
            "results.json", "manifest.json"} <= set(names)
    recorded, fresh, diffs = bundle.recompute(tmp_path / "a.zip")
    assert recorded.park == fresh.park
    assert len(diffs) == 2 * 9  # 5 quantities + 4 uncertainty statistics per product
    assert max(d.relative for d in diffs) <= bundle.TOLERANCE


def test_changed_row_changes_hash(park, tmp_path):
    digest, _ = bundle.create(park, tmp_path / "a.zip", iterations=0, seed=0)
    inputs = park / "inputs.csv"
    inputs.write_text(inputs.read_text().replace("200,kWh", "201,kWh"))
    changed, _ = bundle.create(park, tmp_path / "b.zip", iterations=0, seed=0)
    assert changed != digest


def test_tampered_bundle_is_refused(park, tmp_path):
    bundle.create(park, tmp_path / "a.zip", iterations=0, seed=0)
    with zipfile.ZipFile(tmp_path / "a.zip") as src, zipfile.ZipFile(tmp_path / "t.zip", "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data.replace(b"5600", b"5000") if name == "park/emissions.csv" else data)
    with pytest.raises(ValueError, match="park/emissions.csv does not match the manifest"):
        bundle.recompute(tmp_path / "t.zip")


# ---- hostile bundles (issue 14) -------------------------------------------------------------


def _files(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _forge(path, files: dict[str, bytes]) -> None:
    """A bundle of ``files`` whose manifest lists every one of them with its true hash."""
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = {n: bundle._sha256(d) for n, d in files.items() if n != "manifest.json"}
    files = {**files, "manifest.json": json.dumps(manifest).encode()}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name), data)


@pytest.fixture
def made(park, tmp_path):
    bundle.create(park, tmp_path / "made.zip", iterations=0, seed=0)
    return _files(tmp_path / "made.zip")


def test_bundle_entries_escaping_the_folder_are_refused_before_anything_is_written(made, tmp_path):
    import site
    import tempfile

    from footprint.archives import ArchiveError

    pth = Path(site.getsitepackages()[0]) / "footprint-test-evil.pth"
    escapes = ["../../escaped.txt", str(tmp_path / "absolute.txt"), "park/../../escaped.txt",
               os.path.relpath(pth, tempfile.gettempdir())]
    for name in escapes:
        _forge(tmp_path / "evil.zip", {**made, name: b"import os; os.system('touch /tmp/pwned')\n"})
        with pytest.raises(ArchiveError) as e:
            bundle.recompute(tmp_path / "evil.zip")
        assert e.value.entry == name
    assert not pth.exists() and not (tmp_path / "absolute.txt").exists()
    assert not list(tmp_path.parent.glob("escaped.txt")) and not Path(tempfile.gettempdir(), "escaped.txt").exists()


@pytest.mark.parametrize("name", ["home/brightway/footprint.abc/lci/databases.db", "home/cache/background-x.npz",
                                  "park/.env", "park/cb.p12", "park/README.md", "keys/demo-signer.p12",
                                  "background/ecoinvent.db", "sitecustomize.py"])
def test_bundle_may_carry_only_its_layout(made, tmp_path, name):
    from footprint.archives import ArchiveError

    _forge(tmp_path / "extra.zip", {**made, name: b"x"})
    with pytest.raises(ArchiveError, match="is not a file a calculation bundle may carry"):
        bundle.recompute(tmp_path / "extra.zip")


def test_bundle_packs_only_the_park_files_the_format_defines(park, tmp_path):
    for name, data in ((".env", b"FOOTPRINT_KEY_PASSPHRASE=secret\n"), ("cb.p12", b"\x30\x82"), ("notes.txt", b"x")):
        (park / name).write_bytes(data)
    bundle.create(park, tmp_path / "a.zip", iterations=0, seed=0)
    names = {n for n in _files(tmp_path / "a.zip") if n.startswith("park/")}
    assert names == {"park/park.yaml", "park/facilities.csv", "park/outputs.csv", "park/inputs.csv",
                     "park/emissions.csv"}


def test_bundle_with_its_own_background_factors_is_refused(made, tmp_path):
    halved = made["background/open-factors.csv"].replace(b"0.5", b"0.25")
    assert halved != made["background/open-factors.csv"]
    _forge(tmp_path / "bg.zip", {**made, "background/open-factors.csv": halved})
    with pytest.raises(ValueError, match="open-factors.csv differs from the open-factors this footprint ships"):
        bundle.recompute(tmp_path / "bg.zip")


def test_edited_or_missing_results_do_not_reproduce_and_the_child_is_isolated(made, tmp_path, monkeypatch):
    """A recorded total edited by 1e-6 shows as such; a product the results file leaves out shows as
    missing (every product of the park is compared); the child ignores PYTHONPATH (a sitecustomize)."""
    results = json.loads(made["results.json"])
    kept = results["products"][0]["product_id"]
    results["products"] = results["products"][:1]
    results["products"][0]["total"] *= 1.000001
    _forge(tmp_path / "some.zip", {**made, "results.json": json.dumps(results).encode()})
    hook = tmp_path / "hook"
    hook.mkdir()
    marker = tmp_path / "hook-ran"
    (hook / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.setenv("PYTHONPATH", str(hook))
    _, fresh, diffs = bundle.recompute(tmp_path / "some.zip")
    assert not marker.exists()
    assert len(fresh.products) == 2
    missing = [d for d in diffs if d.product_id != kept]
    assert len(missing) == 5 and all(d.relative == float("inf") for d in missing)
    worst = max((d for d in diffs if d.product_id == kept), key=lambda d: d.relative)
    assert (worst.quantity, worst.relative) == ("total", pytest.approx(1e-6, rel=1e-3))


def test_recompute_shows_the_childs_located_error_not_a_traceback(made, tmp_path):
    bad = made["park/inputs.csv"].replace(b"200,kWh", b"-200,kWh")
    assert bad != made["park/inputs.csv"]
    _forge(tmp_path / "bad.zip", {**made, "park/inputs.csv": bad})
    with pytest.raises(bundle.RecomputeError) as e:
        bundle.recompute(tmp_path / "bad.zip")
    assert "inputs.csv, row 2, column amount: got '-200'" in str(e.value)
    assert "Traceback" not in str(e.value)


def test_recompute_cli_refuses_a_hostile_bundle_with_exit_2(made, tmp_path):
    from typer.testing import CliRunner

    from footprint.cli.main import app

    _forge(tmp_path / "evil.zip", {**made, "../../x.pth": b"import os\n"})
    result = CliRunner().invoke(app, ["recompute", str(tmp_path / "evil.zip")])
    assert result.exit_code == 2
    assert "Refused" in result.output and "'../../x.pth'" in result.output and "Traceback" not in result.output
