"""Honest scale (issue 14): many input rows and deep supply chains, every figure checked by hand.

Times are measured by benchmarks/bench_scale.py (figures in the issue's closing note); these tests
check what scale must not break: results, the database written, trees deeper than Python's
recursion limit, and a review that never leaves a bundle without its report.
"""

from __future__ import annotations

import csv
from datetime import date

import numpy as np
import pytest
from parks import write_park

from footprint.park.loading import load_park

GRID = "electricity-cn-east"


def _grid_factor() -> float:
    """kg CO2e per kWh of the open-factors grid row, read from the CSV (not from the engine)."""
    from footprint.engine.background import OPEN_FACTORS_CSV

    with open(OPEN_FACTORS_CSV, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["code"] == GRID:
                assert not (row["ch4"] or row["n2o"] or row["fossil"] or row["biogenic"] or row["luc"])
                return float(row["co2"])  # kg CO2 per kWh; CO2's GWP is 1 by definition
    raise AssertionError(f"{GRID} not in open-factors")


def test_many_input_rows_give_exact_totals_and_one_database_exchange_per_target(tmp_path, project):
    import bw2data as bd

    from footprint.engine.calculation import compute_park

    facilities, factors, rows = 10, 5, 6000
    fossil = [0.5 + k for k in range(factors)]
    inputs = [{"facility_id": f"f{n % facilities}", "ref": f"factor:m{(n // facilities) % factors}",
               "amount": 1 + n % 7, "unit": "kg"} for n in range(rows)]
    folder = write_park(
        tmp_path / "wide", facilities=[{"facility_id": f"f{k}"} for k in range(facilities)],
        outputs=[{"product_id": f"p{k}", "facility_id": f"f{k}", "unit": "kg", "amount": 1000}
                 for k in range(facilities)],
        inputs=inputs, factors=[{"code": f"m{k}", "unit": "kg", "fossil": fossil[k]} for k in range(factors)])
    results = compute_park(load_park(folder), write_database=True)  # the database is checked below
    amounts = np.zeros((facilities, factors))
    for n, row in enumerate(inputs):
        amounts[n % facilities, (n // facilities) % factors] += row["amount"]
    expected = amounts @ np.array(fossil) / 1000
    got = np.array([results.product(f"p{k}").total for k in range(facilities)])
    assert np.allclose(got, expected, rtol=1e-6)
    p0 = results.product("p0")
    assert len(p0.contributions_by_input) == rows // facilities  # every row, traced
    assert sum(len(c.rows) for c in p0.contributions_by_category) == rows // facilities
    database = bd.Database(f"park:{load_park(folder).park.id}")
    exchanges = [e for a in database if not a["code"].startswith("factor:") for e in a.technosphere()]
    assert len(exchanges) == facilities * factors  # merged per target, not one per row


@pytest.fixture
def deep(tmp_path, project):
    """A chain p0 ← p1 ← … ← p(n-1): each product uses 1 kg of the next and 1 kWh of grid power."""
    def make(depth: int):
        return write_park(
            tmp_path / f"deep{depth}", facilities=[{"facility_id": f"f{k}"} for k in range(depth)],
            outputs=[{"product_id": f"p{k}", "facility_id": f"f{k}", "unit": "kg", "amount": 1}
                     for k in range(depth)],
            inputs=[{"facility_id": f"f{k}", "ref": f"bg:{GRID}", "amount": 1, "unit": "kWh"} for k in range(depth)]
            + [{"facility_id": f"f{k}", "ref": f"p{k + 1}", "amount": 1, "unit": "kg"} for k in range(depth - 1)])
    return make


def test_supply_chain_deeper_than_the_recursion_limit(deep):
    import sys

    from footprint.engine.calculation import Solution, calculate
    from footprint.engine.inventory import build_foreground, write_foreground
    from footprint.review.report import TREE_MAX_NODES, build

    depth = 1500
    assert depth > sys.getrecursionlimit()
    fg = build_foreground(load_park(deep(depth)))
    write_foreground(fg)
    solution = Solution(fg)
    results = calculate(fg, 0, None, solution)
    e = _grid_factor()
    assert results.product("p0").total == pytest.approx(depth * e, rel=1e-5)
    review = build(fg, solution, results, ["p0", "p1490"])
    tree = review.products[0].tree
    assert len(tree) == TREE_MAX_NODES
    chain = [n for n in tree if n.name.startswith("Product ")]
    # the largest branch first: p1, p2, … each one level deeper, carrying (depth - k) kWh of grid power
    assert [n.depth for n in chain] == list(range(len(chain)))
    assert [n.score for n in chain] == pytest.approx([(depth - k) * e for k in range(len(chain))], rel=1e-5)
    short = review.products[1].tree  # p1490: 10 links, every branch over 1 % of 10 kWh
    assert len([n for n in short if n.name.startswith("Product ")]) == 10
    # every kWh of its 10 links is in its tree, emitted directly by the grid activity, not by park products
    assert sum(n.direct for n in short) == pytest.approx(10 * e, rel=1e-5)
    assert all(n.direct == 0 for n in short if n.name.startswith("Product "))


def test_review_writes_report_and_bundle_or_nothing_and_bounds_the_pdf(deep, tmp_path, monkeypatch):
    from footprint.review import decisions, document

    monkeypatch.setattr(document, "PDF_DETAIL_LIMIT", 4)
    park = deep(6)
    out = tmp_path / "out"
    monkeypatch.setattr(document, "render", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("render failed")))
    with pytest.raises(RuntimeError, match="render failed"):
        decisions.run_review(park, out, [], 20, 0, date(2026, 3, 1))
    assert not out.exists() or not list(out.iterdir())  # no bundle without its report
    monkeypatch.undo()
    monkeypatch.setattr(document, "PDF_DETAIL_LIMIT", 4)
    done = decisions.run_review(park, out, [], 20, 0, date(2026, 3, 1))
    assert done.bundle.exists() and done.html.exists() and done.pdf.exists()
    html = done.html.read_text()
    assert html.count('<section class="product"') == 6
    assert "the first 4 of 6 products" not in html
    from footprint.documents import read_attachment

    assert read_attachment(done.pdf, None)[1]  # the PDF embeds the results
    if (pdftotext := __import__("shutil").which("pdftotext")):
        import subprocess

        text = " ".join(subprocess.run([pdftotext, str(done.pdf), "-"], capture_output=True, text=True).stdout.split())
        assert "a full section for the first 4 of 6 products" in text
        assert "5 p3 — Product p3" in text and "p4 — Product p4" not in text
        assert "Information findings (" in text  # the park's info findings are counted, not listed
