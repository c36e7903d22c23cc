"""Calculation bundles: deterministic, tamper-evident, and recomputed exactly in a fresh directory."""

from __future__ import annotations

import json
import zipfile

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


def test_recompute_reports_a_changed_result(park, tmp_path):
    """A bundle whose recorded result was edited (manifest re-hashed) no longer reproduces."""
    bundle.create(park, tmp_path / "a.zip", iterations=0, seed=0)
    with zipfile.ZipFile(tmp_path / "a.zip") as src:
        files = {n: src.read(n) for n in src.namelist()}
    results = json.loads(files["results.json"])
    results["products"][0]["total"] *= 1.000001
    files["results.json"] = json.dumps(results).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["results.json"] = bundle._sha256(files["results.json"])
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(tmp_path / "edited.zip", "w") as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    _, _, diffs = bundle.recompute(tmp_path / "edited.zip")
    worst = max(diffs, key=lambda d: d.relative)
    assert (worst.quantity, worst.relative) == ("total", pytest.approx(1e-6, rel=1e-3))
