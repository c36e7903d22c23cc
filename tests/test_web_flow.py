"""The reviewer's and issuer's pages (issue 11) through Starlette's TestClient, over a fresh data directory.

One small park whose product is named ``<script>alert(1)</script>`` goes the whole way: requested,
reviewed (report, checks, bundle), decided with the verification statement, issued with the
server's (demo) key, suspended, reinstated, surveilled, withdrawn, exported, and the audit chain
checked. Jobs run in the test process (``jobs.run_one``) instead of the server's worker process,
which the browser test (test_web_browser.py) exercises. Then every page and action is tried by
every role and anonymously, and every form without its CSRF token.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT
from fastapi.testclient import TestClient
from parks import write_park

from footprint.registry import requests, reviewers, users
from footprint.registry.records import Registry, RegistryError
from footprint.service.app import Settings, create_app
from footprint.service.web import jobs

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert(1)</script>"
ROLES = ("manufacturer", "reviewer", "issuer", "admin")
STATEMENT = {"verifier": "Demo Verification Body", "accreditation": "CNAS-DEMO-V0000", "assurance": "limited",
             "materiality_percent": "5", "criteria": "ISO 14067:2018", "scope": "cradle-to-gate, 2025",
             "intended_users": "customers", "opinion": "nothing came to our attention", "standard": "ISO 14064-3:2019"}
HEAT = 3000 * 2.2 / 100  # kg CO2e per GJ of steam, by hand from the rows below
BAR = (20 * HEAT + 1050 * 1.9) / 1000  # kg CO2e per kg of bar (Brightway keeps single-precision matrices: 1e-6)


def token_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@dataclass
class Site:
    app: object
    registry: Registry
    home: Path
    park: Path
    request_id: int
    clients: list

    def client(self, role: str | None = None) -> TestClient:
        """A browser: logged in as the user of ``role``, or anonymous (with its CSRF cookie)."""
        c = TestClient(self.app, base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        self.clients.append(c)
        form = c.get("/login")
        c.csrf = token_of(form.text)
        if role:
            answer = c.post("/login", data={"email": f"{role}@example.com", "password": PASSWORD, "next": "/",
                                            "csrf_token": c.csrf})
            assert answer.status_code == 303, answer.text
            c.csrf = _any_form(c, role)
        return c

    def run_jobs(self) -> list[jobs.JobView]:
        """Run every queued job here, as the server's job worker would."""
        done = []
        while True:
            with self.registry.read() as s:
                from sqlalchemy import select

                from footprint.registry.schema import Job

                queued = s.execute(select(Job.id).where(Job.status == "queued").order_by(Job.id)).scalars().all()
            if not queued:
                return done
            jobs.run_one(self.registry, "test-worker")
            done.append(jobs.get(self.registry, queued[0]))


START = {"manufacturer": "/parks", "reviewer": "/review", "issuer": "/issue", "admin": "/admin/users"}


def _any_form(c: TestClient, role: str) -> str:
    """The session's CSRF token, from the role's start page (every page has the logout form)."""
    return token_of(c.get(START[role]).text)


@pytest.fixture(scope="module")
def site(tmp_path_factory, project):
    from argon2 import PasswordHasher, Type

    from footprint.registry.schema import Submission

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                            type=Type.ID))
        mp.setattr(jobs.Supervisor, "check", lambda self: None)  # jobs run in the test (Site.run_jobs)
        mp.setenv("FOOTPRINT_ISSUER", str(ROOT / "inventories" / "demo-issuer.yaml"))
        mp.setenv("FOOTPRINT_SIGNING_KEY", "")  # the data directory's demo key
        home = tmp_path_factory.mktemp("web-flow-home")
        park = write_park(
            tmp_path_factory.mktemp("web-flow-park") / "park",
            facilities=[{"facility_id": "steam", "enterprise_id": "ENT-A"},
                        {"facility_id": "mill", "enterprise_id": "ENT-A", "enterprise": "<b>Mill</b> & Co"}],
            outputs=[{"product_id": "heat", "facility_id": "steam", "unit": "GJ", "amount": 100},
                     {"product_id": "bar", "name": HOSTILE, "facility_id": "mill", "unit": "kg", "amount": 1000}],
            inputs=[{"facility_id": "steam", "ref": "factor:gas", "amount": 3000, "unit": "m3", "data_type": "primary"},
                    {"facility_id": "mill", "ref": "heat", "amount": 20, "unit": "GJ", "data_type": "primary"},
                    {"facility_id": "mill", "ref": "factor:billet", "amount": 1.05, "unit": "t"}],
            factors=[{"code": "gas", "unit": "m3", "fossil": 2.2, "dqr": 2},
                     {"code": "billet", "unit": "kg", "fossil": 1.9, "dqr": 3}])
        registry = Registry.open(home)
        for role in ROLES:
            users.add(registry, f"{role}@example.com", role, PASSWORD, ["ENT-A"] if role == "manufacturer" else [])
        reviewers.add(registry, "li.wei", "Li Wei", "Demo Verification Body", "CNAS-DEMO-V0000",
                      email="Reviewer@Example.com")
        import datetime as dt

        from footprint.park.loading import load_park

        with registry.write() as s:
            row = Submission(park_id=load_park(park).park.id, enterprise_ids='["ENT-A"]', folder=str(park),
                             file_name="park.zip", content_sha256="0" * 64, uploaded_by=1,
                             created_at=dt.datetime.now(dt.UTC))
            s.add(row)
            s.flush()
            submission_id = row.id
        maker = next(u for u in users.listing(registry) if u.role == "manufacturer")
        request = requests.create(registry, submission_id, ["bar"], maker.id)
        site = Site(create_app(Settings(home=home)), registry, home, park, request.id, [])
        yield site
        for c in site.clients:
            c.__exit__(None, None, None)
        registry.close()


@pytest.fixture(scope="module")
def worked(site):
    """The whole path through the pages: review, recompute, decision, issue; returns the certificate number."""
    rid = site.request_id
    reviewer = site.client("reviewer")
    queue = reviewer.get("/review")
    assert queue.status_code == 200 and f'href="/review/{rid}"' in queue.text
    page = reviewer.get(f"/review/{rid}")
    assert page.status_code == 200 and "Run the review" in page.text and 'id="decision"' not in page.text
    started = reviewer.post(f"/review/{rid}/run", data={"csrf_token": reviewer.csrf, "iterations": "200"})
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    assert requests.get(site.registry, rid).status == "reviewing"
    (review,) = site.run_jobs()
    assert review.status == "done", review.error
    started = reviewer.post(f"/review/{rid}/recompute", data={"csrf_token": reviewer.csrf})
    assert started.status_code == 303
    (recompute,) = site.run_jobs()
    assert recompute.status == "done", recompute.error
    page = reviewer.get(f"/review/{rid}").text
    digest = review.result["bundle_sha256"]
    assert re.search(r'name="bundle_sha256" value="([0-9a-f]{64})"', page).group(1) == digest
    incomplete = reviewer.post(f"/review/{rid}/decide", data={"csrf_token": reviewer.csrf, "decision": "approve",
                                                              "comment": "rows checked", "bundle_sha256": digest,
                                                              **{**STATEMENT, "opinion": ""}})
    assert incomplete.status_code == 400 and "opinion" in incomplete.text
    assert requests.get(site.registry, rid).status == "reviewing"
    decided = reviewer.post(f"/review/{rid}/decide", data={"csrf_token": reviewer.csrf, "decision": "approve",
                                                           "comment": "rows checked", "bundle_sha256": digest,
                                                           **STATEMENT})
    assert decided.status_code == 303, decided.text
    assert requests.get(site.registry, rid).status == "approved"
    issuer = site.client("issuer")
    assert f'href="/issue/{rid}"' in issuer.get("/issue").text
    # the park's data changed after the approval: the issue job fails, saying why, and nothing is issued
    inputs = site.park / "inputs.csv"
    approved_rows = inputs.read_bytes()
    inputs.write_bytes(approved_rows.replace(b"1.05,t", b"1.06,t"))
    assert issuer.post(f"/issue/{rid}", data={"csrf_token": issuer.csrf}).status_code == 303
    (refused,) = site.run_jobs()
    assert refused.status == "failed" and "changed since Li Wei" in refused.error and "approval is void" in \
        refused.error, refused.error
    assert requests.get(site.registry, rid).status == "approved" and site.registry.records() == []
    assert "changed since Li Wei" in issuer.get(f"/issue/{rid}").text
    inputs.write_bytes(approved_rows)
    started = issuer.post(f"/issue/{rid}", data={"csrf_token": issuer.csrf})
    assert started.status_code == 303
    (issued,) = site.run_jobs()
    assert issued.status == "done", issued.error
    (number,) = issued.result["numbers"]
    return {"review": review, "recompute": recompute, "number": number, "reviewer": reviewer, "issuer": issuer,
            "digest": digest}


def test_review_shows_the_report_checks_interval_and_recomputation(site, worked):
    rid, reviewer = site.request_id, worked["reviewer"]
    result = worked["review"].result
    (bar,) = result["products"]
    assert bar["id"] == "bar" and bar["total"] == pytest.approx(BAR, rel=1e-6)
    assert bar["p2_5"] <= bar["mean"] <= bar["p97_5"]
    recomputed = worked["recompute"].result
    assert recomputed["reproduced"] and recomputed["bundle_sha256"] == worked["digest"]
    page = reviewer.get(f"/review/{rid}").text
    assert f"{BAR:.4g}" in page and "Reproduced" in page and f'src="/review/{rid}/report.html"' in page
    report = reviewer.get(f"/review/{rid}/report.html")
    assert report.status_code == 200 and "sandbox" in report.headers["content-security-policy"]
    assert "inputs.csv:4" in report.text and worked["digest"] in report.text
    assert reviewer.get(f"/review/{rid}/report.pdf").content.startswith(b"%PDF")
    assert reviewer.get(f"/review/{rid}/bundle.zip").content.startswith(b"PK")
    # the decision is the audit log's, named by the registered reviewer linked by e-mail, with the statement
    from footprint.review.decisions import latest_decision

    decision = latest_decision(site.registry, requests.submission(site.registry, 1).park_id, "bar")
    assert (decision["decision"], decision["reviewer"], decision["bundle_sha256"]) == (
        "approve", "li.wei", worked["digest"])
    assert decision["statement"]["opinion"] == STATEMENT["opinion"] and decision["iterations"] == 200
    # decided: no second decision, no new review
    again = reviewer.post(f"/review/{rid}/decide", data={"csrf_token": reviewer.csrf, "decision": "reject",
                                                         "comment": "second thoughts",
                                                         "bundle_sha256": worked["digest"]})
    assert again.status_code == 409
    assert reviewer.post(f"/review/{rid}/run", data={"csrf_token": reviewer.csrf}).status_code == 409


def test_issued_certificate_is_the_approved_calculation_signed_and_registered(site, worked):
    from footprint.certificates import verification
    from footprint.certificates.keys import trust_roots
    from footprint.registry import copies

    number, issuer = worked["number"], worked["issuer"]
    record = site.registry.get(number)
    assert record.total == pytest.approx(BAR, rel=1e-6) and record.product_name == HOSTILE
    assert record.review["reviewer_id"] == "li.wei" and record.demo
    request = requests.get(site.registry, site.request_id)
    assert (request.status, request.certificate_numbers) == ("issued", (number,))
    pdf = copies.pdf(site.registry, number)
    verdict = verification.verify(Path(f"{number}.pdf"), trust_roots(site.home),
                                  verification.DatabaseSource(site.registry), pdf=pdf)
    assert verdict.valid, verdict.reasons
    page = issuer.get(f"/issue/{site.request_id}").text
    assert number in page and "Issue the certificates" not in page
    again = issuer.post(f"/issue/{site.request_id}", data={"csrf_token": issuer.csrf})
    assert again.status_code == 409


def test_issuer_suspends_reinstates_surveils_withdraws_exports_and_checks_the_chain(site, worked):
    from footprint.certificates.keys import trust_roots
    from footprint.registry.records import read_export

    number, issuer = worked["number"], worked["issuer"]
    listing = issuer.get("/registry", params={"status": "active", "q": "BAR"})
    assert number in listing.text
    assert number not in issuer.get("/registry", params={"status": "withdrawn"}).text
    assert number not in issuer.get("/registry", params={"q": "no such product"}).text

    def act(action: str, **fields: str) -> object:
        return issuer.post(f"/registry/{number}/{action}", data={"csrf_token": issuer.csrf, **fields})

    assert act("suspend", reason="").status_code == 400  # a reason is required
    assert act("suspend", reason="meter data questioned").status_code == 303
    assert site.registry.get(number).status == "suspended"
    from footprint.registry import audit

    with site.registry.read() as s:
        last = audit.parse(audit.subject_entries(s, number)[-1])
    assert (last.action, last.detail["reason"], last.detail["by"]) == ("suspend", "meter data questioned",
                                                                      "issuer@example.com")
    assert act("withdraw", reason="").status_code == 400
    assert act("reinstate", reason="meter data confirmed").status_code == 303
    surveil = act("surveillance", result="pass", by="Li Wei", note="site visit")
    assert surveil.status_code == 400 and "no surveillance due" in surveil.text  # scheme pact: none due
    assert act("withdraw", reason="product discontinued").status_code == 303
    record = site.registry.get(number)
    assert (record.status, record.revocation_reason) == ("withdrawn", "product discontinued")
    assert "Withdraw the certificate" not in issuer.get(f"/registry/{number}").text
    export = issuer.get("/registry/export.json")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    path = site.home / "export.json"
    path.write_bytes(export.content)
    payload, signer = read_export(path, trust_roots(site.home))
    assert [(c["number"], c["status"]) for c in payload["certificates"]] == [(number, "withdrawn")]
    assert "DEMO" in signer
    assert issuer.post("/audit/check", data={"csrf_token": issuer.csrf}).status_code == 303
    (check,) = site.run_jobs()
    assert check.status == "done" and check.result["ok"], check.result
    page = issuer.get("/audit").text
    assert "Audit log intact" in page and "request-issued" in page and "revoke" in page
    with site.registry.read() as s:
        assert check.result["entries"] == audit.newest(s, 1)[0].seq  # the whole log, up to its last entry


def test_hostile_names_are_text_on_every_page(site, worked):
    number = worked["number"]
    shown = {"reviewer": [f"/review/{site.request_id}", f"/review/{site.request_id}/report.html"],
             "issuer": ["/registry", f"/registry/{number}", f"/issue/{site.request_id}"]}
    for role, paths in shown.items():
        browser = worked[role]
        for path in paths:
            page = browser.get(path)
            assert page.status_code == 200, path
            assert HOSTILE not in page.text and "<b>Mill</b>" not in page.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in worked["issuer"].get("/registry").text


def test_request_transitions_are_audited_and_refused_out_of_order(site, worked):
    rid = site.request_id
    with pytest.raises(RegistryError, match="is issued; it cannot become approved"):
        requests.transition(site.registry, rid, "approved", 1)
    with pytest.raises(RegistryError, match="cannot become 'withdrawn'"):
        requests.transition(site.registry, rid, "withdrawn", 1)
    with pytest.raises(RegistryError, match="choose at least one product"):
        requests.create(site.registry, 1, [], 1)
    from footprint.registry import audit

    with site.registry.read() as s:
        actions = [e.action for e in audit.subject_entries(s, f"request:{rid}")]
    assert actions == ["request-create", "request-reviewing", "request-approved", "request-issued"]
    assert site.registry.audit_report().ok
    # a request approved in SQL, past the log, shows in the chain check
    with site.registry.write() as s:
        from sqlalchemy import update

        from footprint.registry.schema import CertificationRequest

        s.execute(update(CertificationRequest).where(CertificationRequest.id == rid).values(status="approved"))
    try:
        report = site.registry.audit_report()
        assert not report.ok and any("certification_requests" in p and f"request:{rid}" in p
                                     for p in report.problems), report.problems
    finally:
        with site.registry.write() as s:
            s.execute(update(CertificationRequest).where(CertificationRequest.id == rid).values(status="issued"))
    assert site.registry.audit_report().ok
    assert json.loads(json.dumps(requests.get(site.registry, rid).certificate_numbers)) == [worked["number"]]


def _state(site: Site) -> tuple[int, int]:
    """(audit entries, jobs): what any accepted action changes."""
    from sqlalchemy import func, select

    from footprint.registry.schema import AuditEntry, Job

    with site.registry.read() as s:
        return (s.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
                s.execute(select(func.count()).select_from(Job)).scalar_one())


def _pages(site: Site, number: str) -> dict[tuple[str, str], tuple[str, int]]:
    """Every page and action of the reviewer's and issuer's modules: (method, path) → (role, status for that
    role). POSTs by their own role are sent refusable (decided request, withdrawn certificate) except the two
    that only queue a job."""
    rid = site.request_id
    return {("GET", "/review"): ("reviewer", 200), ("GET", f"/review/{rid}"): ("reviewer", 200),
            ("GET", f"/review/{rid}/report.html"): ("reviewer", 200),
            ("GET", f"/review/{rid}/report.pdf"): ("reviewer", 200),
            ("GET", f"/review/{rid}/bundle.zip"): ("reviewer", 200),
            ("POST", f"/review/{rid}/run"): ("reviewer", 409), ("POST", f"/review/{rid}/recompute"): ("reviewer", 303),
            ("POST", f"/review/{rid}/decide"): ("reviewer", 409),
            ("GET", "/issue"): ("issuer", 200), ("GET", f"/issue/{rid}"): ("issuer", 200),
            ("POST", f"/issue/{rid}"): ("issuer", 409), ("GET", "/registry"): ("issuer", 200),
            ("GET", "/registry/export.json"): ("issuer", 200), ("GET", f"/registry/{number}"): ("issuer", 200),
            ("POST", f"/registry/{number}/suspend"): ("issuer", 400),
            ("POST", f"/registry/{number}/reinstate"): ("issuer", 400),
            ("POST", f"/registry/{number}/withdraw"): ("issuer", 400),
            ("POST", f"/registry/{number}/surveillance"): ("issuer", 400),
            ("GET", "/audit"): ("issuer", 200), ("POST", "/audit/check"): ("issuer", 303)}


def test_every_page_and_action_by_every_role_and_anonymous(site, worked):
    number = worked["number"]
    assert site.registry.get(number).status == "withdrawn"  # (the issuer test withdrew it) so POSTs are refusable
    browsers = {role: site.client(role) for role in ROLES} | {None: site.client()}
    for (method, path), (owner, expected) in _pages(site, number).items():
        for role, browser in browsers.items():
            before = _state(site)
            data = {"csrf_token": browser.csrf, "reason": "x", "result": "maybe", "by": "x", "note": "x",
                    "decision": "reject", "comment": "x", "bundle_sha256": worked["digest"]}
            answer = browser.get(path) if method == "GET" else browser.post(path, data=data)
            where = f"{method} {path} as {role or 'anonymous'}"
            if role is None:
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), where
            elif role != owner:
                assert answer.status_code == 403 and "Your role may not open this page" in answer.text, where
            else:
                assert answer.status_code == expected, (where, answer.status_code, answer.text[:300])
            if role != owner or expected != 303:
                assert _state(site) == before, f"{where} changed something"
    from sqlalchemy import delete, select

    from footprint.registry.schema import Job

    with site.registry.write() as s:  # queued by the two accepted POSTs; not run again here
        assert sorted(s.execute(select(Job.kind).where(Job.status == "queued")).scalars()) == ["audit-check",
                                                                                               "recompute"]
        s.execute(delete(Job).where(Job.status == "queued"))


def test_every_form_refuses_a_missing_or_foreign_csrf_token(site, worked):
    number = worked["number"]
    other = site.client("issuer")  # another session of the same user: its token is not this one's
    for (method, path), (owner, _) in _pages(site, number).items():
        if method != "POST":
            continue
        browser = worked[owner]
        for token in (None, "", other.csrf if owner == "issuer" else worked["issuer"].csrf, browser.csrf[:-1] + "x"):
            before = _state(site)
            answer = browser.post(path, data={} if token is None else {"csrf_token": token, "reason": "x"})
            assert answer.status_code == 403 and "did not come from this site" in answer.text, (path, token)
            assert _state(site) == before, path
