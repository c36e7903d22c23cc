"""Certification schemes, post-certification surveillance and the verification statement.

Dates are worked out by hand from the scheme rules (CNCA 2025: two years from issue, surveillance
at 12 months; PACT: up to three years after the reference period), never taken from the code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
import yaml
from certdocs import document
from conftest import ROOT
from typer.testing import CliRunner

from footprint.certificates import issuing, keys, signing, verification
from footprint.engine import home
from footprint.registry import schemes
from footprint.registry import statement as statements
from footprint.registry.certificate import draft
from footprint.registry.issuer import IssuerConfigError, load_issuer
from footprint.registry.records import Registry, RegistryError
from footprint.registry.schema import AuditEntry

DEMO_ISSUER = ROOT / "inventories" / "demo-issuer.yaml"
DEMO_STATEMENT = ROOT / "inventories" / "demo-statement.yaml"
UTC = dt.UTC


def issuer_file(tmp_path, **changes):
    data = {**yaml.safe_load(DEMO_ISSUER.read_text(encoding="utf-8")), **changes}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "issuer.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# ---- schemes ---------------------------------------------------------------------------------------


def test_scheme_dates_by_hand():
    cnca, pact = schemes.SCHEMES["cnca-2025"], schemes.SCHEMES["pact"]
    issue, period_end = dt.date(2026, 3, 1), dt.date(2025, 12, 31)
    assert schemes.last_valid_day(cnca, issue, period_end) == dt.date(2028, 2, 29)  # 2 years from issue, inclusive
    assert schemes.surveillance_due(cnca, issue, dt.date(2028, 2, 29)) == dt.date(2027, 3, 1)
    # after that surveillance the next would fall on 2028-03-01, after the certificate ends: none
    assert schemes.surveillance_due(cnca, dt.date(2027, 3, 1), dt.date(2028, 2, 29)) is None
    assert schemes.last_valid_day(pact, issue, period_end) == dt.date(2028, 12, 31)
    assert schemes.last_valid_day(pact, issue, period_end, 1) == dt.date(2026, 12, 31)
    assert schemes.surveillance_due(pact, issue, dt.date(2028, 12, 31)) is None
    assert schemes.add_months(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert schemes.add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)
    assert schemes.add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)


def test_issuer_scheme_sets_validity_surveillance_and_domain(tmp_path, project):
    from footprint.park.models import Period, Results

    cnca = load_issuer(issuer_file(tmp_path, scheme="cnca-2025", validity_years=None))
    assert cnca.rules.rule_zh.startswith("国家认监委《产品碳足迹标识认证通用实施规则（试行）》")
    assert cnca.pact_domain == "example.org"  # from status@example.org
    results = Results(park="p", park_name="P", period=Period(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31)),
                      engine="x", databases={}, products=[])
    product = {"product_id": "a", "name": "A", "facility_id": "f", "facility": "F", "enterprise": "E", "unit": "kg",
               "amount": 1, "total": 1, "fossil": 1, "biogenic": 0, "luc": 0, "primary_data_share": 0,
               "allocation": {"basis": "single output", "share": 1}, "contributions_by_input": [],
               "contributions_by_facility": [], "contributions_by_enterprise": [], "contributions_by_category": [],
               "background": []}
    results = Results.model_validate({**results.model_dump(), "products": [product]})
    cert = draft(results, "a", cnca, dt.date(2026, 3, 1))
    assert (cert.valid_until, cert.surveillance_due) == (dt.date(2028, 2, 29), dt.date(2027, 3, 1))
    pact = draft(results, "a", load_issuer(DEMO_ISSUER), dt.date(2026, 3, 1))
    assert (pact.valid_until, pact.surveillance_due) == (dt.date(2028, 12, 31), None)
    with pytest.raises(IssuerConfigError, match="validity_years applies to scheme pact only"):
        load_issuer(issuer_file(tmp_path, scheme="cnca-2025", validity_years=2))
    with pytest.raises(IssuerConfigError, match="scheme"):
        load_issuer(issuer_file(tmp_path, scheme="iso-14067-anything"))
    assert load_issuer(issuer_file(tmp_path, domain="cb.example.cn")).pact_domain == "cb.example.cn"
    with pytest.raises(IssuerConfigError, match="domain"):
        load_issuer(issuer_file(tmp_path, domain="https://cb.example.cn/"))


# ---- verification statement -------------------------------------------------------------------------


def test_statement_file_options_and_errors(tmp_path):
    st = statements.load(DEMO_STATEMENT)
    assert (st.assurance, st.materiality_percent, st.standard) == ("limited", 5.0, "ISO 14064-3:2019")
    assert statements.load(DEMO_STATEMENT, {"assurance": "reasonable", "opinion": None}).assurance == "reasonable"
    with pytest.raises(statements.StatementError, match=r"assurance: Input should be 'limited' or 'reasonable'"):
        statements.load(DEMO_STATEMENT, {"assurance": "high"})
    with pytest.raises(statements.StatementError, match=r"scope: Field required; opinion: Field required"):
        statements.from_fields({"verifier": "V", "accreditation": "CNAS V1", "assurance": "limited",
                                "materiality_percent": 5, "criteria": "ISO 14067", "intended_users": "buyers"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(statements.StatementError, match="expected a mapping"):
        statements.load(bad)
    bad.write_text(yaml.safe_dump({**yaml.safe_load(DEMO_STATEMENT.read_text(encoding="utf-8")), "extra": 1}))
    with pytest.raises(statements.StatementError, match="extra: Extra inputs are not permitted"):
        statements.load(bad)
    with pytest.raises(statements.StatementError, match="cannot read"):
        statements.load(tmp_path / "missing.yaml")


# ---- surveillance in the registry --------------------------------------------------------------------


@pytest.fixture
def registry(tmp_path):
    with Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}") as r:
        yield r


@pytest.fixture(scope="module")
def signer() -> signing.DocumentSigner:
    return signing.DocumentSigner(keys.default_key(home.resolve()))


def issue_cnca(registry, signer, folder, issue: dt.date, product_id: str = "al-profile"):
    """A certificate under cnca-2025 issued on ``issue``: valid 2 years, surveillance due at 12 months."""
    until = schemes.last_valid_day(schemes.SCHEMES["cnca-2025"], issue, dt.date(2025, 12, 31))
    due = schemes.surveillance_due(schemes.SCHEMES["cnca-2025"], issue, until)

    def render(reservation):
        doc = document(reservation, product_id=product_id, valid_from=issue, valid_days=(until - issue).days)
        return dataclasses.replace(doc, facts={**doc.facts, "scheme": "cnca-2025", "surveillance_due":
                                               dt.datetime.combine(due, dt.time(0), tzinfo=UTC)})

    return issuing.issue(registry, signer, "demo-park", folder, render)


def test_surveillance_due_pass_and_fail(registry, signer, tmp_path):
    today = dt.datetime.now(UTC).date()
    late = issue_cnca(registry, signer, tmp_path, today - dt.timedelta(days=400), "late")  # due 35 days ago
    soon = issue_cnca(registry, signer, tmp_path, today - dt.timedelta(days=350), "soon")  # due in ~15 days
    issue_cnca(registry, signer, tmp_path, today - dt.timedelta(days=10), "fresh")  # due in ~355 days
    issued = today - dt.timedelta(days=400)
    a_year_on = dt.date(issued.year + 1, issued.month, min(issued.day, 28 if issued.month == 2 else issued.day))
    assert late.record.surveillance_due == f"{a_year_on}T00:00:00+00:00"
    due = registry.due(30)
    assert [r.product_id for r in due] == ["late", "soon"]
    assert [r.surveillance_overdue() for r in due] == [True, False]
    assert [r.product_id for r in registry.due(0)] == ["late"]

    passed = registry.record_surveillance(late.record.number, True, "Li Wei (auditor)", "site visit, meters checked")
    assert passed.status == "active" and passed.surveillance_due is None  # the next would be at expiry
    failed = registry.record_surveillance(soon.record.number, False, "Li Wei (auditor)", "meter records missing")
    assert failed.status == "suspended" and failed.status_reason == "surveillance failed: meter records missing"
    assert registry.due(30) == []
    with pytest.raises(RegistryError, match="is suspended; surveillance applies to active certificates"):
        registry.record_surveillance(soon.record.number, True, "Li Wei (auditor)", "again")
    with pytest.raises(RegistryError, match="has no surveillance due"):
        registry.record_surveillance(late.record.number, True, "Li Wei (auditor)", "again")
    with pytest.raises(RegistryError, match="--by"):
        registry.record_surveillance(late.record.number, True, " ", "x")
    with registry.read() as s:
        entries = [(e.action, e.subject, json.loads(e.detail)) for e in s.query(AuditEntry).order_by(AuditEntry.seq)]
    assert [(a, d.get("result")) for a, _, d in entries[6:]] == [("surveillance", "pass"), ("surveillance", "fail"),
                                                                  ("suspend", None)]  # after 3 × reserve, issue
    assert entries[6][2]["by"] == "Li Wei (auditor)" and entries[6][2]["next_due"] is None
    assert registry.audit_report().ok


def test_verify_reports_an_overdue_surveillance(registry, signer, tmp_path):
    today = dt.datetime.now(UTC).date()
    late = issue_cnca(registry, signer, tmp_path, today - dt.timedelta(days=400))
    roots = keys.trust_roots(home.resolve())
    verdict = verification.verify(late.path, roots, verification.DatabaseSource(registry))
    assert verdict.valid, verdict.reasons
    issued = today - dt.timedelta(days=400)
    due = dt.date(issued.year + 1, issued.month, min(issued.day, 28 if issued.month == 2 else issued.day))
    assert any(w.startswith(f"surveillance OVERDUE: due {due} under scheme cnca-2025") for w in verdict.warnings)
    registry.record_surveillance(late.record.number, True, "Li Wei (auditor)", "passed")
    verdict = verification.verify(late.path, roots, verification.DatabaseSource(registry))
    assert verdict.valid and not any("surveillance" in w for w in verdict.warnings)


def test_cli_registry_due_and_surveillance_record(signer, tmp_path):
    today = dt.datetime.now(UTC).date()
    with Registry.open(home.resolve()) as registry:
        late = issue_cnca(registry, signer, tmp_path, today - dt.timedelta(days=400), "cli-late")
    from footprint.cli.main import app

    run = CliRunner().invoke(app, ["registry", "due", "--within", "0"])
    assert run.exit_code == 1 and late.record.number in run.output and "OVERDUE" in run.output
    run = CliRunner().invoke(app, ["surveillance", "record", late.record.number, "--result", "fail", "--by",
                                   "Li Wei (auditor)", "--note", "records missing"])
    assert run.exit_code == 0 and "certificate suspended" in run.output
    run = CliRunner().invoke(app, ["surveillance", "record", late.record.number, "--result", "pass", "--by",
                                   "Li Wei (auditor)", "--note", "records found"])
    assert run.exit_code == 2 and "is suspended" in run.output
    assert late.record.number not in CliRunner().invoke(app, ["registry", "due"]).output
