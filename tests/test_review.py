"""Review workflow: the report traces every row, decisions gate issuing, changed data voids approval."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from conftest import DEMO, ROOT
from parks import write_park

from footprint.registry import reviewers
from footprint.registry import statement as statements
from footprint.registry.records import RegistryError
from footprint.review.decisions import NotApproved, decide, require_approval, run_review


@pytest.fixture
def park(tmp_path, project):
    return write_park(
        tmp_path / "park",
        facilities=[{"facility_id": "steam"}, {"facility_id": "mill"}],
        outputs=[{"product_id": "heat", "facility_id": "steam", "unit": "GJ", "amount": 100},
                 {"product_id": "bar", "facility_id": "mill", "unit": "kg", "amount": 1000}],
        inputs=[{"facility_id": "steam", "ref": "factor:gas", "amount": 3000, "unit": "m3", "data_type": "primary"},
                {"facility_id": "mill", "ref": "heat", "amount": 20, "unit": "GJ", "data_type": "primary"},
                {"facility_id": "mill", "ref": "factor:billet", "amount": 1.05, "unit": "t"}],
        factors=[{"code": "gas", "unit": "m3", "fossil": 2.2, "dqr": 2},
                 {"code": "billet", "unit": "kg", "fossil": 1.9, "dqr": 3}],
    )


@pytest.fixture
def registry(tmp_path):
    from footprint.registry.records import Registry

    (tmp_path / "registry-home").mkdir()
    with Registry.open(tmp_path / "registry-home") as r:
        yield r


def test_demo_review_lists_every_row(project):
    from footprint.engine.calculation import Solution, calculate
    from footprint.engine.inventory import build_foreground, write_foreground
    from footprint.park.loading import load_park
    from footprint.review.report import build

    park = load_park(DEMO)
    fg = build_foreground(park)
    write_foreground(fg)
    solution = Solution(fg)
    review = build(fg, solution, calculate(fg, sol=solution))
    rows = {i.origin.label for i in park.inputs} | {e.origin.label for e in park.emissions}
    assert rows <= review.rows_listed
    assert [f for f in review.findings if f.severity != "info"] == []  # the demo park has no open warning


def test_report_and_bundle_written(park, tmp_path):
    done = run_review(park, tmp_path / "out", [], iterations=100, seed=1, day=date(2026, 1, 15))
    html = done.html.read_text()
    for row in ("inputs.csv:2", "inputs.csv:3", "inputs.csv:4"):
        assert row in html
    heat = 3000 * 2.2 / 100  # kg CO2e per GJ, by hand
    bar = (20 * heat + 1050 * 1.9) / 1000
    assert f"{heat:.3g}" in html and f"{bar:.3g}" in html
    assert done.bundle_hash in html
    assert done.pdf.read_bytes().startswith(b"%PDF")
    assert all(p.uncertainty and p.uncertainty.iterations == 100 for p in done.results.products)


def test_approval_gate(park, tmp_path, registry):
    done = run_review(park, tmp_path / "out", [], iterations=50, seed=2, day=date(2026, 1, 15))
    park_id = done.results.park
    with pytest.raises(NotApproved, match="has not been reviewed"):
        require_approval(registry, park, park_id, ["bar"])
    with pytest.raises(RegistryError, match="not a registered reviewer"):
        decide(registry, park_id, "bar", False, "Li Wei (demo reviewer)", "checked rows", done.bundle_hash, 50, 2)
    reviewers.add(registry, "li.wei", "Li Wei", "Demo Verification Ltd", "CNAS V0000")
    with pytest.raises(ValueError, match="an approval needs the verification statement"):
        decide(registry, park_id, "bar", True, "li.wei", "checked rows", done.bundle_hash, 50, 2)
    statement = statements.load(ROOT / "inventories" / "demo-statement.yaml")
    decide(registry, park_id, "bar", True, "li.wei", "checked rows", done.bundle_hash, 50, 2, statement)
    decide(registry, park_id, "heat", False, "li.wei", "meter calibration missing", done.bundle_hash, 50, 2)
    approval = require_approval(registry, park, park_id, ["bar"])["bar"]
    assert (approval["reviewer"], approval["reviewer_name"], approval["reviewer_organisation"]) == (
        "li.wei", "Li Wei", "Demo Verification Ltd")
    with pytest.raises(NotApproved, match=r"rejected by Li Wei \(Demo Verification Ltd, CNAS V0000\) "
                                          ".*meter calibration missing"):
        require_approval(registry, park, park_id, ["heat"])
    changed = tmp_path / "changed"
    shutil.copytree(park, changed)
    inputs = changed / "inputs.csv"
    inputs.write_text(inputs.read_text().replace("1.05,t", "1.06,t"))
    with pytest.raises(NotApproved, match=r"changed since Li Wei \(Demo Verification Ltd, CNAS V0000\) approved"):
        require_approval(registry, changed, park_id, ["bar"])
    assert registry.audit_report().ok


def test_decision_on_the_bundle_seen_by_the_reviewer_linked_by_email(park, tmp_path, registry):
    from footprint.review.decisions import decide_bundle, latest_decision

    done = run_review(park, tmp_path / "out", ["bar"], iterations=20, seed=3, day=date(2026, 1, 15))
    reviewers.add(registry, "li.wei", "Li Wei", "Demo Verification Ltd", email="Li.Wei@Example.com")
    assert reviewers.for_email(registry, " li.wei@example.COM").id == "li.wei"
    assert reviewers.for_email(registry, "someone@example.com") is None
    with pytest.raises(ValueError, match="changed since it was shown"):
        decide_bundle(registry, park, done.bundle, ["bar"], False, "li.wei", "rows missing", expected_hash="0" * 64)
    with pytest.raises(ValueError, match="unknown product"):
        decide_bundle(registry, park, done.bundle, ["rod"], False, "li.wei", "rows missing")
    digest, entries = decide_bundle(registry, park, done.bundle, ["bar"], False, "li.wei", "rows missing",
                                    expected_hash=done.bundle_hash)
    assert digest == done.bundle_hash and [e.subject for e in entries] == [f"{done.results.park}/bar"]
    decision = latest_decision(registry, done.results.park, "bar")
    assert (decision["decision"], decision["iterations"], decision["seed"]) == ("reject", 20, 3)
    assert latest_decision(registry, done.results.park, "heat") is None
    reviewers.add(registry, "zhao.min", "Zhao Min", "Demo Verification Ltd", email="li.wei@example.com")
    with pytest.raises(RegistryError, match="2 active reviewers share the address"):
        reviewers.for_email(registry, "li.wei@example.com")
