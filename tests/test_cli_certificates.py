"""The certificate commands end to end: certify → verify → export → revoke → verify, and key errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from conftest import ROOT
from parks import write_park
from typer.testing import CliRunner

from footprint.certificates import keys
from footprint.cli.main import app
from footprint.engine import home

ISSUER = str(ROOT / "inventories" / "demo-issuer.yaml")


@pytest.fixture(scope="module")
def park_dir(tmp_path_factory, project) -> Path:
    return write_park(
        tmp_path_factory.mktemp("park"),
        facilities=[{"facility_id": "mill"}, {"facility_id": "pv"}],
        outputs=[{"product_id": "profile", "facility_id": "mill", "unit": "kg", "amount": 1000, "mass_kg": 1},
                 {"product_id": "power", "facility_id": "pv", "unit": "kWh", "amount": 5000}],
        inputs=[{"facility_id": "mill", "ref": "power", "amount": 2000, "unit": "kWh", "data_type": "primary"},
                {"facility_id": "mill", "ref": "factor:ingot", "amount": 1.1, "unit": "t"},
                {"facility_id": "pv", "ref": "factor:module", "amount": 5000, "unit": "kWh"}],
        factors=[{"code": "ingot", "unit": "kg", "fossil": 8.0}, {"code": "module", "unit": "kWh", "fossil": 0.04}],
    )


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke the CLI with this test's own registry database."""
    monkeypatch.setenv("FOOTPRINT_DATABASE_URL", f"sqlite:///{tmp_path / 'registry.sqlite'}")
    monkeypatch.delenv(keys.PASSPHRASE_ENV, raising=False)
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_certify_verify_export_revoke(cli, park_dir, tmp_path):
    assert "demo keys" in cli("keys", "demo")
    out = tmp_path / "certs"
    refused = cli("certify", str(park_dir), "--issuer", ISSUER, "--out", str(out), "--issue-date", "2026-03-01",
                  code=1)
    assert "has not been reviewed" in refused and not out.exists()
    review = tmp_path / "review"
    cli("review", str(park_dir), "--out", str(review), "--iterations", "50")
    bundle = str(next(review.glob("*-bundle.zip")))
    statement = str(ROOT / "inventories" / "demo-statement.yaml")
    assert "not a registered reviewer" in cli("review", "decide", str(park_dir), "--approve", "--reviewer",
                                              "zhao.min", "--comment", "rows checked", "--bundle", bundle,
                                              "--statement", statement, code=1)
    cli("reviewers", "add", "zhao.min", "--name", "Zhao Min", "--organisation", "Demo Verification Ltd")
    cli("review", "decide", str(park_dir), "--approve", "--reviewer", "zhao.min", "--comment", "rows checked",
        "--bundle", bundle, "--statement", statement)
    assert "--backdate" in cli("certify", str(park_dir), "--issuer", ISSUER, "--out", str(out), "--issue-date",
                               "2026-03-01", code=1)
    cli("certify", str(park_dir), "--issuer", ISSUER, "--out", str(out), "--issue-date", "2026-03-01", "--backdate")
    files = sorted(out.glob("*.pdf"))
    assert [f.name.split("_")[0] for f in files] == ["power", "profile"]
    pdf = next(f for f in files if f.name.startswith("profile"))
    number = re.search(r"_(.+)\.pdf$", pdf.name).group(1)

    from footprint.documents import read_attachment

    data = json.loads(read_attachment(pdf.read_bytes())[1])
    verified = data["pcf"]["verification"]
    assert "Reviewed by Zhao Min (Demo Verification Ltd)" in verified["comments"]
    assert "Limited assurance" in verified["comments"]
    assert verified["providerName"].startswith("Demo Product Carbon Footprint Certification Centre (verification")
    assert verified["standardName"] == "ISO 14064-3:2019"
    assert data["extensions"][0]["data"]["certificate"]["self_declared"] is False
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Zhao Min (Demo Verification Ltd)" in text and "Monte Carlo, n = 50" in text

    report = cli("verify", str(pdf))
    for check in ("signature", "coverage", "signer", "number", "registry", "issuer", "data", "file", "status"):
        assert re.search(rf"PASS {check}\b", report), report
    assert "INFO third-party reviewed: approved by Zhao Min (Demo Verification Ltd)" in report
    assert f"INFO back-dated: valid from 2026-03-01, recorded on {date.today()}" in report
    assert report.rstrip().endswith("\nVALID") and "DEMO key — NOT A VALID CERTIFICATION" in report

    if shutil.which("pdfsig"):  # the independent check: poppler agrees the signature is valid
        sig = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert "Signature is Valid." in sig and "Total document signed" in sig

    export = tmp_path / "export.json"
    cli("registry", "export", "--out", str(export))
    cli("revoke", number, "--reason", "grid factor was wrong")
    revoked = cli("verify", str(pdf), code=1)
    assert "FAIL status" in revoked and "REVOKED" in revoked and "grid factor was wrong" in revoked
    # a buyer with yesterday's export still sees it active; with a fresh export, revoked
    stale = cli("verify", str(pdf), "--registry", str(export))
    assert stale.rstrip().endswith("\nVALID") and "a revocation after it is not in it" in stale
    cli("registry", "export", "--out", str(export))
    assert "REVOKED" in cli("verify", str(pdf), "--registry", str(export), code=1)
    assert "intact" in cli("audit", "verify")

    cli("verify", str(tmp_path / "missing.pdf"), code=2)
    cli("verify", str(pdf), "--registry", str(tmp_path / "no-such-export.json"), code=2)
    cli("revoke", number[:-1] + ("X" if number[-1] != "X" else "Y"), "--reason", "typo", code=2)


def test_an_unusable_key_stops_certify_before_anything_is_issued(cli, park_dir, tmp_path):
    ca_key, key = keys.new_key("ec"), keys.new_key("ec")
    ca = keys.make_ca("Real CB", "Real root", ca_key)
    leaf = keys.make_leaf("Real CB", "Real signer", key, ca, ca_key)
    p12 = tmp_path / "cb.p12"
    p12.write_bytes(keys.pkcs12_bytes(key, leaf, [ca], passphrase=b"s3cret"))
    out = tmp_path / "certs"
    result = cli("certify", str(park_dir), "--issuer", ISSUER, "--out", str(out), "--key", str(p12), code=2)
    assert "Unusable signing key" in result and "passphrase" in result
    assert not out.exists()

    (tmp_path / "ca.pem").write_bytes(keys.pem(ca))
    cli_env = {keys.PASSPHRASE_ENV: "s3cret"}
    runner = CliRunner()
    result = runner.invoke(app, ["certify", str(park_dir), "--issuer", ISSUER, "--out", str(out), "--key", str(p12),
                                 "--product", "power", "--issue-date", "2026-03-01", "--backdate", "--self-declared"],
                           env=cli_env)
    assert result.exit_code == 0, result.output
    (pdf,) = out.glob("*.pdf")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Self-declared, not third-party verified" in text
    # signed by a body whose root is not configured: invalid until its root is given with --trust
    assert "does NOT chain to a trusted root" in runner.invoke(app, ["verify", str(pdf)]).output
    trusted = runner.invoke(app, ["verify", str(pdf), "--trust", str(tmp_path / "ca.pem")])
    assert trusted.exit_code == 0, trusted.output
    assert home.resolve().exists()


def test_certify_with_two_workers_issues_each_product_once_in_order(cli, park_dir, tmp_path):
    """``--workers 2``: two forked processes issue into one registry; every product gets one signed,
    recorded certificate, each verifies, and the listing is in product order like one process's."""
    from footprint.registry.records import Registry

    cli("keys", "demo")
    out = tmp_path / "certs"
    listing = cli("certify", str(park_dir), "--issuer", ISSUER, "--out", str(out), "--issue-date", "2026-03-01",
                  "--backdate", "--self-declared", "--workers", "2")
    lines = [line.split() for line in listing.splitlines() if line.startswith(str(out))]
    assert [line[2] for line in lines] == ["profile", "power"]  # park order: outputs.csv lists profile first
    numbers = [line[1] for line in lines]
    assert len(set(numbers)) == 2
    with Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}") as registry:
        assert sorted(r.number for r in registry.records()) == sorted(numbers)
    for path, number in zip((Path(line[0]) for line in lines), numbers, strict=True):
        assert path.name.endswith(f"_{number}.pdf") and not list(out.glob("*.pending"))
        verdict = cli("verify", str(path))
        assert "VALID" in verdict and number in verdict


def test_reviewed_park_with_a_waste_output_certifies_its_products_only(cli, tmp_path, project):
    """`review decide` and `certify` without --product mean every product: a waste output (format 2) carries
    no burden and gets neither a decision nor a certificate (as `make demo` runs on the demo park's scrap)."""
    park = write_park(
        tmp_path / "park", park={"format": "footprint-park/2"},
        facilities=[{"facility_id": "mill"}],
        outputs=[{"product_id": "bar", "facility_id": "mill", "unit": "kg", "amount": 1000, "mass_kg": 1},
                 {"product_id": "scrap", "facility_id": "mill", "unit": "kg", "amount": 50, "kind": "waste"}],
        inputs=[{"facility_id": "mill", "ref": "factor:billet", "amount": 1.1, "unit": "t"}],
        factors=[{"code": "billet", "unit": "kg", "fossil": 2.0}])
    from footprint.documents import read_attachment

    review, out = tmp_path / "review", tmp_path / "certs"
    cli("keys", "demo")
    cli("review", str(park), "--out", str(review), "--iterations", "20")
    [bundle] = review.glob("*-bundle.zip")
    cli("reviewers", "add", "dana.lee", "--name", "Dana Lee (demo)", "--organisation", "Demo Verification Ltd")
    decided = cli("review", "decide", str(park), "--approve", "--reviewer", "dana.lee", "--comment", "rows checked",
                  "--bundle", str(bundle), "--statement", str(ROOT / "inventories" / "demo-statement.yaml"))
    assert "/bar" in decided and "scrap" not in decided
    refused = cli("review", "decide", str(park), "--product", "scrap", "--approve", "--reviewer", "dana.lee",
                  "--comment", "rows checked", "--bundle", str(bundle), "--statement",
                  str(ROOT / "inventories" / "demo-statement.yaml"), code=1)
    assert "unknown product(s) scrap" in " ".join(refused.split())
    cli("certify", str(park), "--issuer", ISSUER, "--out", str(out), "--issue-date", "2026-03-01", "--backdate")
    [pdf] = out.glob("*.pdf")
    assert pdf.name.startswith("bar_")
    data = json.loads(read_attachment(pdf.read_bytes())[1])["extensions"][0]["data"]["results"]
    # 1.1 t × 2 kg CO2e/kg ÷ 1000 kg of bar; Brightway stores amounts as float32
    assert data["products"][0]["total"] == pytest.approx(1.1 * 1000 * 2.0 / 1000, rel=1e-6)
