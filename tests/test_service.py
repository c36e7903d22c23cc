"""`footprint serve`: PACT v3 host API and public verification pages, on SQLite and PostgreSQL.

The registries hold real issued certificates (servicedata.py). Expected footprints come from the
PDF files on disk (the embedded JSON as issued), expected filter results from a separate plain
predicate over those, and events are checked against the PACT v3.0.3 OpenAPI's own schemas.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from conftest import SHARED
from fastapi.testclient import TestClient
from servicedata import ISSUER, Listener, compute_parks, issue_all, postgres_url

from footprint.documents import read_attachment
from footprint.engine import home
from footprint.registry import api_clients, pact_events
from footprint.registry.records import Registry
from footprint.service.app import Settings, create_app

PACT_SPEC = SHARED / "pact" / "pact-v3.0.3-openapi.yaml"
CREATED = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3"
PUBLISHED = "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
SECRET = "a-test-secret-of-sufficient-length-0123"


@pytest.fixture(scope="module")
def parks(tmp_path_factory, project):
    return compute_parks(tmp_path_factory.mktemp("parks"))


@pytest.fixture(scope="module")
def on_sqlite(parks, tmp_path_factory):
    folder = tmp_path_factory.mktemp("issued")
    issued = issue_all(parks, f"sqlite:///{folder / 'registry.sqlite'}", folder / "out")
    with Registry(issued.url) as registry:
        api_clients.add(registry, "buyer", SECRET)
    return issued


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def issued(request, on_sqlite):
    """The registry with the five certificates: issued on SQLite, copied table by table to PostgreSQL."""
    if request.param == "sqlite":
        return on_sqlite
    url = postgres_url() or pytest.skip("PostgreSQL tests need FOOTPRINT_TEST_POSTGRES_URL (set by .ci/run)")
    return on_sqlite.copy_to(url)


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def client(issued):
    settings = Settings(home=home.resolve(), database_url=issued.url, callback_private=True,
                        retry_base_seconds=0.05, poll_seconds=0.2, max_upload_bytes=2 * 1024 * 1024)
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        yield c


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def get_token(client, client_id: str = "buyer", secret: str = SECRET) -> str:
    r = client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def auth(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {get_token(client)}"}


def as_issued(issued) -> dict[str, dict]:
    """name → the ProductFootprint embedded in the PDF on disk."""
    return issued.embedded()


EXPECTED_STATUS = {"a-power": "Active", "a-profile-1": "Deprecated", "b-ingot": "Active", "b-billet": "Deprecated",
                   "a-profile-2": "Active"}


def names_of(issued, footprints: list[dict]) -> list[str]:
    by_id = {pf["id"]: name for name, pf in as_issued(issued).items()}
    return [by_id[pf["id"]] for pf in footprints]


# ---- tokens -----------------------------------------------------------------------------------


def test_token_endpoint_client_credentials(client, issued):
    r = client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=basic("buyer", SECRET))
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert len(body["access_token"]) >= 40 and r.headers["cache-control"] == "no-store"
    for headers, status, error in [
        (basic("buyer", SECRET + "x"), 401, "invalid_client"),
        (basic("nobody", SECRET), 401, "invalid_client"),
        ({}, 401, "invalid_client"),
        ({"Authorization": "Basic not-base64!"}, 401, "invalid_client"),
        ({"Authorization": "Bearer " + body["access_token"]}, 401, "invalid_client"),
    ]:
        r = client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=headers)
        assert (r.status_code, r.json()["error"]) == (status, error)
        assert "access_token" not in r.json() and r.headers["www-authenticate"].startswith("Basic")
    r = client.post("/auth/token", data={"grant_type": "password"}, headers=basic("buyer", SECRET))
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")
    r = client.post("/auth/token", json={"grant_type": "client_credentials"}, headers=basic("buyer", SECRET))
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_openid_configuration_names_the_token_endpoint(client):
    conf = client.get("/.well-known/openid-configuration").json()
    assert conf["token_endpoint"] == "https://testserver/auth/token"
    assert conf["grant_types_supported"] == ["client_credentials"]


PATHS = [("get", "/3/footprints"), ("get", f"/3/footprints/{uuid.uuid4()}"), ("post", "/3/events")]


def test_missing_bad_expired_and_revoked_tokens_on_every_path(client, issued):
    with Registry(issued.url) as registry:
        expired, _ = api_clients.issue_token(registry, "buyer", seconds=-1)
        revoked_id = f"gone-{uuid.uuid4().hex[:8]}"
        api_clients.add(registry, revoked_id, SECRET)
    revoked = get_token(client, revoked_id)
    with Registry(issued.url) as registry:
        api_clients.revoke(registry, revoked_id)
    event = {"type": PUBLISHED, "specversion": "1.0", "id": "x", "source": "https://example.org/3/events",
             "time": "2026-03-05T17:31:00Z", "data": {"pfIds": [str(uuid.uuid4())]}}
    cases = [({}, 400, "BadRequest"), ({"Authorization": "Bearer "}, 400, "BadRequest"),
             ({"Authorization": "Bearer invalid-access-token"}, 400, "BadRequest"),
             ({"Authorization": "Basic " + base64.b64encode(f"buyer:{SECRET}".encode()).decode()}, 400, "BadRequest"),
             ({"Authorization": f"Bearer {expired}"}, 401, "TokenExpired"),
             ({"Authorization": f"Bearer {revoked}"}, 403, "AccessDenied")]
    for (method, path), (headers, status, code) in itertools.product(PATHS, cases):
        kwargs = {"json": event} if method == "post" else {}
        r = getattr(client, method)(path, headers=headers, **kwargs)
        assert (r.status_code, r.json()["code"]) == (status, code), (path, headers, r.text)
        assert set(r.json()) == {"code", "message"} and "data" not in r.json()
    r = client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=basic(revoked_id, SECRET))
    assert r.status_code == 401


def test_api_client_add_and_revoke_are_audited(issued):
    name = f"audited-{uuid.uuid4().hex[:8]}"
    with Registry(issued.url) as registry:
        api_clients.add(registry, name, SECRET)
        api_clients.revoke(registry, name)
        report = registry.audit_report()
        from sqlalchemy import select

        from footprint.registry.schema import AccessToken, ApiClient, AuditEntry

        with registry.read() as s:
            actions = [(e.action, e.subject) for e in s.execute(select(AuditEntry)).scalars()]
            stored = s.execute(select(ApiClient.secret_hash).where(ApiClient.client_id == name)).scalar()
            tokens = list(s.execute(select(AccessToken.token_sha256)).scalars())
    assert ("api-client-add", name) in actions and ("api-client-revoke", name) in actions
    assert report.ok, report.problems
    assert stored.startswith("$argon2id$") and SECRET not in stored
    assert all(re.fullmatch(r"[0-9a-f]{64}", t) for t in tokens)  # tokens kept only as SHA-256


# ---- footprints -------------------------------------------------------------------------------


def test_list_serves_every_certificate_as_issued_with_registry_status(client, auth, issued):
    r = client.get("/3/footprints", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()["data"]
    expected = as_issued(issued)
    assert names_of(issued, data) == ["a-power", "a-profile-1", "b-ingot", "b-billet", "a-profile-2"]
    for pf in data:
        name = names_of(issued, [pf])[0]
        assert pf["status"] == EXPECTED_STATUS[name]
        assert {**pf, "status": "Active"} == expected[name]  # the embedded JSON, only the status follows the registry
    assert "link" not in r.headers


def _issued_values(pf: dict) -> dict[str, list[str]]:
    pcf = pf["pcf"]
    geo = [pcf[k] for k in ("geographyCountry", "geographyCountrySubdivision") if k in pcf]
    return {"productId": pf["productIds"], "companyId": pf["companyIds"], "geography": geo,
            "classification": pf.get("productClassifications", [])}


def expected_names(issued, **criteria) -> list[str]:
    """The spec's filter logic written out plainly over the issued footprints (independent of the server)."""
    out = []
    for name, pf in as_issued(issued).items():
        pf = {**pf, "status": EXPECTED_STATUS[name]}
        values = _issued_values(pf)
        start = dt.datetime.fromisoformat(pf["validityPeriodStart"])
        end = dt.datetime.fromisoformat(pf["validityPeriodEnd"])
        ok = True
        for key, wanted in criteria.items():
            wanted = [w.lower() for w in (wanted if isinstance(wanted, list) else [wanted])]
            if key in values:
                have = {v.lower() for v in values[key]}
                if key == "geography":
                    have |= {v.split("-")[0] for v in have}
                ok &= bool(have & set(wanted))
            elif key == "status":
                ok &= pf["status"].lower() in wanted
            else:
                t = dt.datetime.fromisoformat(wanted[0].upper())
                ok &= {"validOn": start <= t <= end, "validAfter": start > t, "validBefore": end < t}[key]
        if ok:
            out.append(name)
    order = ["a-power", "a-profile-1", "b-ingot", "b-billet", "a-profile-2"]
    return sorted(out, key=order.index)


def _ids(issued, name: str) -> dict[str, str]:
    pf = as_issued(issued)[name]
    return {"productId": pf["productIds"][0], "companyId": pf["companyIds"][0],
            "classification": (pf.get("productClassifications") or [""])[0]}


FILTERS = [
    # (query builder, hand-known expected names)
    (lambda i: [("productId", _ids(i, "b-ingot")["productId"])], ["b-ingot"]),
    (lambda i: [("productId", _ids(i, "a-profile-2")["productId"].upper())], ["a-profile-1", "a-profile-2"]),
    (lambda i: [("productid", _ids(i, "b-ingot")["productId"]), ("PRODUCTID", _ids(i, "a-power")["productId"])],
     ["a-power", "b-ingot"]),
    (lambda i: [("companyId", _ids(i, "a-profile-1")["companyId"].upper())], ["a-profile-1", "a-profile-2"]),
    (lambda i: [("companyId", "urn:bogus:company:1"), ("companyId", _ids(i, "b-billet")["companyId"])],
     ["b-ingot", "b-billet"]),
    (lambda i: [("geography", "de")], ["b-ingot", "b-billet"]),
    (lambda i: [("geography", "CN")], ["a-power", "a-profile-1", "a-profile-2"]),
    (lambda i: [("geography", "cn-js"), ("geography", "DE")], ["a-power", "a-profile-1", "b-ingot", "b-billet",
                                                                  "a-profile-2"]),
    (lambda i: [("geography", "XX")], []),
    (lambda i: [("classification", _ids(i, "b-ingot")["classification"].upper())], ["b-ingot"]),
    (lambda i: [("classification", "urn:bogus:classification:1")], []),
    (lambda i: [("status", "Active")], ["a-power", "b-ingot", "a-profile-2"]),
    (lambda i: [("status", "deprecated")], ["a-profile-1", "b-billet"]),
    (lambda i: [("status", "BogusStatusValue")], []),
    (lambda i: [("validOn", "2026-03-01T12:00:00Z")], ["a-power", "a-profile-1", "b-ingot", "b-billet"]),
    (lambda i: [("validOn", "2028-06-01T00:00:00Z")], ["a-power", "a-profile-1", "a-profile-2"]),
    (lambda i: [("validOn", "1900-01-01T00:00:00Z")], []),
    (lambda i: [("validAfter", "2026-03-01T12:00:00Z")], ["a-profile-2"]),
    (lambda i: [("validAfter", "2099-12-31T23:59:59Z")], []),
    (lambda i: [("validBefore", "2028-06-01T00:00:00Z")], ["b-ingot", "b-billet"]),
    (lambda i: [("validBefore", "1900-01-01T00:00:00Z")], []),
    # different criteria: AND
    (lambda i: [("geography", "DE"), ("status", "Active")], ["b-ingot"]),
    (lambda i: [("status", "Active"), ("productId", _ids(i, "a-profile-1")["productId"])], ["a-profile-2"]),
    (lambda i: [("geography", "CN"), ("validAfter", "2026-03-01T12:00Z"), ("status", "active")], ["a-profile-2"]),
    (lambda i: [("companyId", "urn:bogus:company:5FIi8zS3"), ("productId", _ids(i, "b-ingot")["productId"])], []),
]


@pytest.mark.parametrize("n", range(len(FILTERS)))
def test_each_filter_alone_and_combined(client, auth, issued, n):
    build, hand = FILTERS[n]
    query = build(issued)
    r = client.get("/3/footprints", params=query, headers=auth)
    assert r.status_code == 200, r.text
    got = names_of(issued, r.json()["data"])
    assert got == hand
    criteria: dict[str, list[str]] = {}
    for key, value in query:
        canonical = next(c for c in ("productId", "companyId", "geography", "classification", "status",
                                     "validOn", "validAfter", "validBefore") if c.lower() == key.lower())
        criteria.setdefault(canonical, []).append(value)
    assert got == expected_names(issued, **criteria)


@pytest.mark.parametrize("query", [{"validOn": "yesterday"}, {"validAfter": "2026-13-01T00:00:00Z"},
                                   {"validBefore": ""}, {"limit": "abc"}, {"limit": "0"}, {"limit": "-3"},
                                   {"offset": "x"}])
def test_malformed_query_values_are_bad_requests(client, auth, query):
    r = client.get("/3/footprints", params=query, headers=auth)
    assert (r.status_code, r.json()["code"]) == (400, "BadRequest")
    assert next(iter(query)) in r.json()["message"]


def test_pagination_by_link_header(client, auth, issued):
    host = {"Host": "api.example.com", **auth}
    r = client.get("/3/footprints?status=Active&geography=cn&geography=de&limit=2", headers=host)
    first = names_of(issued, r.json()["data"])
    assert first == ["a-power", "b-ingot"]
    link = r.headers["link"]
    m = re.fullmatch(r'<(https://api\.example\.com/3/footprints\?[^>]+)>; rel="next"', link)
    assert m, link
    nxt = urlsplit(m.group(1))
    assert parse_qs(nxt.query) == {"status": ["Active"], "geography": ["cn", "de"], "limit": ["2"], "offset": ["2"]}
    for _ in range(2):  # a pagination link can be called more than once
        r2 = client.get(f"{nxt.path}?{nxt.query}", headers=host)
        assert names_of(issued, r2.json()["data"]) == ["a-profile-2"] and "link" not in r2.headers
    seen, url = [], "/3/footprints?limit=1"
    while url:
        r = client.get(url, headers=auth)
        assert len(r.json()["data"]) <= 1
        seen += names_of(issued, r.json()["data"])
        link = r.headers.get("link")
        url = urlsplit(re.match(r"<([^>]+)>", link).group(1)) if link else None
        url = f"{url.path}?{url.query}" if url else None
    assert seen == ["a-power", "a-profile-1", "b-ingot", "b-billet", "a-profile-2"]


def test_get_footprint_by_id(client, auth, issued):
    expected = as_issued(issued)
    for name in ("a-profile-2", "b-billet"):
        pid = expected[name]["id"]
        for asked in (pid, pid.upper()):
            r = client.get(f"/3/footprints/{asked}", headers=auth)
            assert r.status_code == 200
            assert r.json()["data"] == {**expected[name], "status": EXPECTED_STATUS[name]}
    for unknown in (str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000", "non-existent-id"):
        r = client.get(f"/3/footprints/{unknown}", headers=auth)
        assert (r.status_code, r.json()["code"]) == (404, "NotFound")


# ---- events ------------------------------------------------------------------------------------


def event_schema(name: str):
    import jsonschema

    if not PACT_SPEC.exists():
        pytest.skip(f"{PACT_SPEC} absent (../shared not beside the repository)")
    spec = yaml.safe_load(PACT_SPEC.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]},
                                           format_checker=jsonschema.FormatChecker())


def assert_valid(event: dict, schema: str) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in event_schema(schema).iter_errors(event)]
    assert not errors, errors
    for name in ("specversion", "id", "source", "time", "type"):  # BaseEvent's required fields
        assert isinstance(event[name], str) and event[name]
    assert event["specversion"] == "1.0"


def created(listener, event_id: str, **criteria) -> dict:
    return {"type": CREATED, "specversion": "1.0", "id": event_id, "source": listener.url,
            "time": "2026-03-05T17:31:00Z", "data": {**criteria, "comment": "Please send PCF data for this year."}}


def post_event(client, auth, body, content_type="application/cloudevents+json; charset=UTF-8"):
    return client.post("/3/events", content=json.dumps(body), headers={**auth, "Content-Type": content_type})


def test_request_created_is_answered_at_the_requesters_source(client, auth, issued, listener):
    expected = as_issued(issued)
    before = len(listener.received)
    ask = created(listener, f"req-{uuid.uuid4()}", productId=[expected["a-profile-1"]["productIds"][0].upper()])
    r = post_event(client, auth, ask)
    assert r.status_code == 200 and r.content == b""
    reply = listener.wait(before + 1)[before]
    assert listener.paths[before] == "/3/events"
    assert_valid(reply, "RequestFulfilledEvent")
    assert reply["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert reply["data"]["requestEventId"] == ask["id"]
    got = {pf["id"]: pf["status"] for pf in reply["data"]["pfs"]}
    assert got == {expected["a-profile-1"]["id"]: "Deprecated", expected["a-profile-2"]["id"]: "Active"}

    nothing = created(listener, f"req-{uuid.uuid4()}", productId=["urn:pact:null"], geography=["DE"])
    assert post_event(client, auth, nothing).status_code == 200
    reply = listener.wait(before + 2)[before + 1]
    assert_valid(reply, "RequestRejectedEvent")
    assert reply["data"]["requestEventId"] == nothing["id"] and reply["data"]["error"]["code"] == "NotFound"
    assert reply["data"]["error"]["message"]


def test_a_failed_delivery_is_retried_with_backoff_and_kept(client, auth, issued, listener):
    before = len(listener.received)
    listener.fail = 2
    ask = created(listener, f"retry-{uuid.uuid4()}", geography=["de"], status="Active")
    assert post_event(client, auth, ask).status_code == 200
    assert post_event(client, auth, ask).status_code == 200  # the same event again: accepted, answered once
    reply = listener.wait(before + 1)[before]
    assert reply["data"]["requestEventId"] == ask["id"]
    assert names_of(issued, reply["data"]["pfs"]) == ["b-ingot"]
    time.sleep(0.5)
    assert len(listener.received) == before + 1
    with Registry(issued.url) as registry:
        stored = [e for e in pact_events.events(registry) if e.event_id == ask["id"]]
    assert [(e.state, e.attempts) for e in stored] == [("delivered", 3)]
    assert stored[0].last_error == "HTTP 500" and stored[0].reply == reply


def test_published_event_is_accepted_without_reply(client, auth, issued, listener):
    before = len(listener.received)
    body = {"type": PUBLISHED, "specversion": "1.0", "id": str(uuid.uuid4()), "source": listener.url,
            "time": "2026-03-05T17:31:00Z", "data": {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]}}
    assert post_event(client, auth, body).status_code == 200
    time.sleep(0.5)
    assert len(listener.received) == before
    with Registry(issued.url) as registry:
        assert [e.state for e in pact_events.events(registry) if e.event_id == body["id"]] == ["received"]


MALFORMED = [
    ({"pfIds": ["urn:gtin:4712345060507"]}, PUBLISHED, "pfIds"),
    ({"pfIds": []}, PUBLISHED, "pfIds"),
    ({"productId": "urn:x"}, CREATED, "productId"),
    ({"validOn": "soon"}, CREATED, "validOn"),
    ({"comment": "no criteria"}, CREATED, "criterion"),
    ({"productId": ["urn:x"], "colour": ["red"]}, CREATED, "colour"),
    ({"productId": ["urn:x"]}, "org.wbcsd.pact.ProductFootprint.Unknown.3", "type"),
]


@pytest.mark.parametrize("data,kind,word", MALFORMED)
def test_malformed_events_are_bad_requests(client, auth, listener, data, kind, word):
    body = {"type": kind, "specversion": "1.0", "id": str(uuid.uuid4()), "source": listener.url,
            "time": "2026-03-05T17:31:00Z", "data": data}
    r = post_event(client, auth, body)
    assert (r.status_code, r.json()["code"]) == (400, "BadRequest") and word in r.json()["message"]


def test_event_envelope_and_transport_problems(client, auth, listener):
    good = created(listener, "env", productId=["urn:x"])
    for broken in ({k: v for k, v in good.items() if k != "source"}, {**good, "specversion": "0.3"},
                   {**good, "time": "noon"}, {**good, "data": "x"}, ["not", "an", "object"]):
        r = post_event(client, auth, broken)
        assert (r.status_code, r.json()["code"]) == (400, "BadRequest")
    assert post_event(client, auth, good, content_type="text/plain").status_code == 400
    r = client.post("/3/events", content=b"{not json", headers={**auth, "Content-Type": "application/cloudevents+json"})
    assert r.status_code == 400
    big = {**good, "data": {"productId": ["urn:x"], "comment": "x" * (1024 * 1024)}}
    assert post_event(client, auth, big).status_code == 413


@pytest.mark.parametrize("source", ["http://example.org/3/events", "https://127.0.0.1/3/events",
                                    "https://10.1.2.3/3/events", "https://[::1]/3/events", "ftp://example.org/x",
                                    "https://user:pw@93.184.216.34/3/events", "https://no-such-host.invalid/3/events"])
def test_callback_addresses_must_be_public_https(issued, source):
    from footprint.exchange.pact_host import BadRequest
    from footprint.service.callbacks import target

    with pytest.raises(BadRequest):
        target(source, allow_private=False)
    assert target("//93.184.216.34/3/events", allow_private=False) == "https://93.184.216.34/3/events"


# ---- verification pages ------------------------------------------------------------------------


def test_verification_page_and_json(client, issued):
    number = issued.numbers["a-profile-2"]
    pf = as_issued(issued)["a-profile-2"]
    page = client.get(f"/verify/{number}?lang=en")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    from footprint.documents import numbers

    total = float(pf["pcf"]["pcfExcludingBiogenicUptake"])
    for text in (number, ">\n  Valid</span>", "Product profile", "Suzhou Profile Co.", f"{numbers.sig(total)} kg CO",
                 "2026-03-02 – 2028-12-31", "Demo Product Carbon Footprint Certification Centre",
                 "The scheme has no surveillance", "DEMO certificate", "all passed", "Self-declared"):
        assert text in html, text
    for check in ("signature", "coverage", "signer", "data", "file", "status"):
        assert re.search(rf'class="pass">PASS</span>\s*{check}</th>', html), check
    zh = client.get(f"/verify/{number}", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "有效" in zh and "示范产品碳足迹认证中心" in zh and 'lang="zh-CN"' in zh

    facts = client.get(f"/verify/{number}.json").json()
    assert facts["status"] == "active" and facts["pact_status"] == "Active" and facts["footprint_id"] == pf["id"]
    assert facts["total"] == total and facts["registry_copy"]["valid"] is True
    assert facts["data_sha256"] == hashlib.sha256(read_attachment(
        issued.files["a-profile-2"].read_bytes())[1]).hexdigest()

    old = client.get(f"/verify/{issued.numbers['a-profile-1']}.json").json()
    assert (old["status"], old["pact_status"], old["superseded_by"]) == ("superseded", "Deprecated", number)
    assert old["registry_copy"]["valid"] is False  # verify's status check fails for a superseded certificate
    withdrawn = client.get(f"/verify/{issued.numbers['b-billet']}?lang=en").text
    assert "Withdrawn (revoked)" in withdrawn and "test: withdrawn" in withdrawn
    ingot = client.get(f"/verify/{issued.numbers['b-ingot']}?lang=en").text  # cnca-2025: surveillance 12 months on
    assert "Next surveillance due 2027-03-01" in ingot and "2026-03-01 – 2028-02-29" in ingot
    assert "CNCA General Implementation Rules" in ingot


def test_unknown_and_mistyped_numbers(client, issued):
    from footprint.registry.records import format_number

    unknown = format_number("nowhere", 2026, 99, "DEMO-PCF")
    assert client.get(f"/verify/{unknown}").status_code == 404
    assert client.get(f"/verify/{unknown}.json").status_code == 404
    number = issued.numbers["b-ingot"]
    typo = number[:-1] + ("A" if number[-1] != "A" else "B")
    r = client.get(f"/verify/{typo}?lang=en")
    assert r.status_code == 404 and "check character" in r.text


def test_qr_code_leads_to_the_verification_page(client, issued):
    from footprint.certificates.verification import qr_payloads

    pdf = issued.files["b-ingot"]
    [payload] = qr_payloads(pdf.read_bytes())
    url = urlsplit(payload)
    issuer_url = yaml.safe_load(ISSUER.read_text(encoding="utf-8"))["verification_url"]
    number = issued.numbers["b-ingot"]
    assert payload.startswith(f"{issuer_url}/{number}#sha256=")
    digest = url.fragment.removeprefix("sha256=")
    assert digest == hashlib.sha256(read_attachment(pdf.read_bytes())[1]).hexdigest()
    page = client.get(url.path)  # the issuer's verification_url is this server's /verify
    assert page.status_code == 200 and number in page.text
    assert f'data-sha256="{digest}"' in page.text
    assert client.get("/verify/static/qr-check.js").headers["content-type"].startswith("text/javascript")


def test_upload_runs_the_checks_of_verify(client, issued):
    pdf = issued.files["a-power"].read_bytes()
    r = client.post("/verify?lang=en", files={"pdf": ("power.pdf", pdf, "application/pdf")})
    assert r.status_code == 200 and 'id="verdict" class="pass">VALID' in r.text
    r = client.post("/verify", files={"pdf": ("power.pdf", pdf, "application/pdf")},
                    headers={"Accept": "application/json"})
    result = r.json()
    assert result["valid"] and result["number"] == issued.numbers["a-power"]
    assert [c["name"] for c in result["checks"]] == ["signature", "coverage", "signer", "number", "registry", "issuer",
                                                     "data", "file", "status"]
    tampered = pdf + b"\n%%EOF\n% appended\n"
    result = client.post("/verify", content=tampered, headers={"Content-Type": "application/pdf",
                                                                "Accept": "application/json"}).json()
    assert not result["valid"] and any(not c["ok"] for c in result["checks"])
    revoked = client.post("/verify", content=issued.files["b-billet"].read_bytes(),
                          headers={"Content-Type": "application/pdf", "Accept": "application/json"}).json()
    assert not revoked["valid"] and "REVOKED" in revoked["checks"][-1]["detail"]
    assert client.post("/verify", content=b"hello", headers={"Content-Type": "application/pdf"}).status_code == 400
    big = b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024 + 100 * 1024)
    assert client.post("/verify", content=big, headers={"Content-Type": "application/pdf"}).status_code == 413
    r = client.post("/verify", files={"pdf": ("big.pdf", big, "application/pdf")})
    assert r.status_code == 413
    form = client.get("/verify?lang=zh")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text and "验证" in form.text


def test_verify_reads_every_qr_form():
    from footprint.certificates.verification import parse_payload

    digest = "ab" * 32
    number = "DEMO-PCF-DEMO-PARK-2026-00005-G"
    for payload in (f"https://verify.example.org/verify/{number}#sha256={digest}",  # this issue's link
                    f"https://verify.example.org/pcf?no={number}&sha256={digest}",  # certificates issued before
                    f"urn:footprint:certificate:{number}:sha256:{digest}"):  # no verification_url
        assert parse_payload(payload) == (number, digest)
