"""The web app's foundation (issue 11): accounts, login, throttling, CSRF, roles, jobs, languages.

Driven with Starlette's TestClient over a fresh data directory per test module; the browser tests
(Playwright) are in test_web_browser.py.
"""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from footprint.registry import users
from footprint.registry.records import Registry, RegistryError
from footprint.service.app import Settings, create_app
from footprint.service.web import jobs, sessions

PASSWORD = "correct horse battery"


@jobs.handler("test-sum")
def _sum(job: jobs.RunningJob) -> dict:
    """A job that reports progress and returns a value computed from its payload."""
    numbers = job.payload["numbers"]
    job.progress("adding", 0.5)
    return {"sum": sum(numbers), "link": f"/jobs/{job.id}"}


@jobs.handler("test-mark")
def _mark(job: jobs.RunningJob) -> dict:
    """Creates a file named after the job, exclusively: a job run twice fails the second time."""
    import os

    os.close(os.open(os.path.join(job.payload["folder"], f"job-{job.id}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    return {"pid": os.getpid()}


@jobs.handler("test-fail")
def _fail(job: jobs.RunningJob) -> dict:
    raise ValueError(f"row {job.payload['row']}: amount is not a number")


@pytest.fixture()
def site(tmp_path, monkeypatch):
    """(client factory, registry) over a fresh data directory with one user of each role.

    Passwords are hashed with Argon2id at low cost here (the CLI test checks the real parameters).
    """
    from argon2 import PasswordHasher, Type

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1,
                                                                 type=Type.ID))
    home = tmp_path / "home"
    home.mkdir()
    registry = Registry.open(home)
    for email, role, enterprises in (("maker@example.com", "manufacturer", ["ENT-A"]),
                                     ("rev@example.com", "reviewer", []), ("iss@example.com", "issuer", []),
                                     ("admin@example.com", "admin", [])):
        users.add(registry, email, role, PASSWORD, enterprises)
    app = create_app(Settings(home=home))
    clients = []

    def client() -> TestClient:
        c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        clients.append(c)
        return c

    yield client, registry
    for c in clients:
        c.__exit__(None, None, None)
    registry.close()


def token_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client: TestClient, email: str, password: str = PASSWORD, next: str = "/"):  # noqa: A002
    form = client.get(f"/login?next={next}")
    return client.post("/login", data={"email": email, "password": password, "next": next,
                                       "csrf_token": token_of(form.text)})


def test_users_cli_adds_lists_and_disables_with_audit(tmp_path):
    from footprint.cli.main import app

    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    env = {"FOOTPRINT_DATABASE_URL": url}
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    run = CliRunner().invoke
    r = run(app, ["users", "add", "Li.Wei@Example.com", "--role", "manufacturer", "--enterprise", "ENT-A",
                  "--enterprise", "ENT-B", "--password-file", str(pw)], env=env)
    assert r.exit_code == 0, r.output
    r = run(app, ["users", "add", "x@example.com", "--role", "reviewer"], input="short\nshort\n", env=env)
    assert r.exit_code == 2 and "at least 12 characters" in r.output
    r = run(app, ["users", "add", "y@example.com", "--role", "manufacturer", "--password-file", str(pw)], env=env)
    assert r.exit_code == 2 and "needs at least one enterprise id" in r.output
    r = run(app, ["users", "add", "z@example.com", "--role", "issuer"], input=f"{PASSWORD}\n{PASSWORD}\n", env=env)
    assert r.exit_code == 0, r.output
    r = run(app, ["users", "list"], env=env)
    assert "li.wei@example.com" in r.output and "ENT-A, ENT-B" in r.output and "z@example.com" in r.output
    assert run(app, ["users", "disable", "li.wei@example.com"], env=env).exit_code == 0
    assert run(app, ["users", "disable", "li.wei@example.com"], env=env).exit_code == 2
    with Registry(url) as reg:
        stored = {u.email: u for u in users.listing(reg)}
        assert stored["li.wei@example.com"].active is False and stored["z@example.com"].active is True
        assert stored["li.wei@example.com"].enterprises == ("ENT-A", "ENT-B")
        with reg.read() as s:
            from footprint.registry.schema import AuditEntry
            from footprint.registry.schema import User as Row

            actions = [(e.action, e.subject) for e in s.query(AuditEntry).order_by(AuditEntry.seq)]
            hashes = [u.password_hash for u in s.query(Row)]
    assert actions == [("user-add", "li.wei@example.com"), ("user-add", "z@example.com"),
                       ("user-disable", "li.wei@example.com")]
    assert all(h.startswith("$argon2id$v=19$m=65536,t=3,p=4$") for h in hashes)  # RFC 9106 low-memory
    assert run(app, ["audit", "verify"], env=env).exit_code == 0


def test_a_user_row_changed_in_sql_shows_in_audit_verify(tmp_path):
    from sqlalchemy import text

    from footprint.registry import audit

    with Registry.open(tmp_path) as reg:
        users.add(reg, "m@example.com", "manufacturer", PASSWORD, ["ENT-A"])
        with reg.engine.begin() as conn:
            conn.execute(text("UPDATE users SET role = 'issuer'"))
        with reg.read() as s:
            report = audit.verify(s, reg.seal())
    assert any("users m@example.com: role is 'issuer'" in p for p in report.problems)


def test_login_with_argon2_password_and_logout(site):
    client, registry = site
    c = client()
    r = login(c, "Maker@Example.com", next="/jobs/1")
    assert r.status_code == 303 and r.headers["location"] == "/jobs/1"
    cookie = r.headers["set-cookie"]
    assert "fp_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    assert c.get("/").headers["location"] == "/parks"
    page = c.get("/admin/users")
    assert page.status_code == 403  # logged in, wrong role
    with registry.read() as s:
        from footprint.registry.schema import WebSession

        stored = [row.token_sha256 for row in s.query(WebSession)]
    token = c.cookies.get("fp_session")
    assert token not in stored and len(stored) == 1  # only the token's hash is kept
    r = c.post("/logout", data={"csrf_token": token_of(page.text)})
    assert r.status_code == 303
    assert c.get("/admin/users").status_code == 303  # the session is gone
    with registry.read() as s:
        assert s.query(WebSession).count() == 0


def test_wrong_password_and_unknown_user_are_refused_alike(site):
    client, _ = site
    c = client()
    wrong = login(c, "maker@example.com", "not the password!")
    unknown = login(c, "nobody@example.com", PASSWORD)
    for r in (wrong, unknown):
        assert r.status_code == 401 and "Wrong e-mail or password." in r.text and "fp_session" not in c.cookies


def test_login_throttling_per_email_then_per_address(site, monkeypatch):
    monkeypatch.setattr(sessions, "MAX_FAILURES_PER_ADDRESS", 9)
    client, registry = site
    c = client()
    for _ in range(sessions.MAX_FAILURES_PER_EMAIL):
        assert login(c, "rev@example.com", "wrong password 1").status_code == 401
    r = login(c, "rev@example.com")  # the right password, but throttled: not even checked
    assert r.status_code == 429 and "Too many failed logins; try again in 15 minutes." in r.text
    assert login(c, "iss@example.com").status_code == 303  # another e-mail from the same address is fine
    for i in range(sessions.MAX_FAILURES_PER_ADDRESS - sessions.MAX_FAILURES_PER_EMAIL):
        login(c, f"guess{i}@example.com", "wrong password 2")
    assert login(c, "admin@example.com").status_code == 429  # the address has used up its attempts


def test_every_post_needs_the_csrf_token(site):
    client, _ = site
    c = client()
    r = c.post("/login", data={"email": "maker@example.com", "password": PASSWORD})
    assert r.status_code == 403 and "did not come from this site" in r.text
    c.get("/login")  # the anonymous token cookie
    r = c.post("/login", data={"email": "maker@example.com", "password": PASSWORD, "csrf_token": "x" * 43})
    assert r.status_code == 403
    assert login(c, "admin@example.com").status_code == 303
    form = {"email": "new@example.com", "role": "reviewer", "password": PASSWORD}
    assert c.post("/admin/users", data=form).status_code == 403
    other = client()
    other_token = token_of(other.get("/login").text)  # another browser's token
    assert c.post("/admin/users", data={**form, "csrf_token": other_token}).status_code == 403
    page = c.get("/admin/users")
    r = c.post("/admin/users", data={**form, "csrf_token": token_of(page.text)})
    assert r.status_code == 303
    assert "new@example.com" in c.get("/admin/users").text


def test_anonymous_is_sent_to_login_and_roles_are_refused(site):
    client, _ = site
    anonymous = client()
    r = anonymous.get("/admin/users?x=1")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fadmin%2Fusers%3Fx%3D1"
    assert anonymous.get("/jobs/1.json").status_code == 303
    assert anonymous.get("/").headers["location"] == "/login"
    for email in ("maker@example.com", "rev@example.com", "iss@example.com"):
        c = client()
        login(c, email)
        r = c.get("/admin/users")
        assert r.status_code == 403 and "Your role may not open this page." in r.text
    c = client()
    login(c, "admin@example.com")
    assert c.get("/admin/users").status_code == 200


def test_login_next_never_leaves_the_site(site):
    client, _ = site
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = login(client(), "rev@example.com", next=target)
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_disabled_user_loses_the_session_at_once(site):
    client, registry = site
    c = client()
    login(c, "rev@example.com")
    assert c.get("/").headers["location"] == "/review"
    users.disable(registry, "rev@example.com")
    assert c.get("/").headers["location"] == "/login"
    assert login(client(), "rev@example.com").status_code == 401


def test_language_switch_and_accept_language(site):
    client, _ = site
    c = client()
    assert "<h1>Log in</h1>" in c.get("/login").text
    assert "<h1>登录</h1>" in c.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    r = c.get("/lang/zh?next=/login")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "<h1>登录</h1>" in c.get("/login").text
    c.get("/lang/en?next=https://evil.example/")
    assert "<h1>Log in</h1>" in c.get("/login", headers={"Accept-Language": "zh-CN"}).text


def test_a_job_runs_in_a_worker_process_and_one_fails_with_its_reason(site):
    client, registry = site
    c = client()
    login(c, "maker@example.com")
    maker = next(u for u in users.listing(registry) if u.role == "manufacturer")
    ok = jobs.submit(registry, "test-sum", {"numbers": [1.5, 2.25, 4]}, maker.id, "test:1")
    bad = jobs.submit(registry, "test-fail", {"row": 7}, maker.id, "test:2", link="/parks")
    page = c.get(f"/jobs/{ok}")
    assert page.status_code == 200 and "/web/static/jobs.js" in page.text  # the page answers before the job ends
    done, failed = jobs.wait(registry, ok), jobs.wait(registry, bad)
    assert (done.status, done.result["sum"], done.link, done.fraction) == ("done", 1.5 + 2.25 + 4, f"/jobs/{ok}", 1.0)
    assert failed.status == "failed" and failed.error == "row 7: amount is not a number"
    state = c.get(f"/jobs/{bad}.json").json()
    assert state["status"] == "failed" and state["error"] == "row 7: amount is not a number"
    assert "row 7: amount is not a number" in c.get(f"/jobs/{bad}").text  # shown after a reload too
    other = client()
    login(other, "rev@example.com")
    assert other.get(f"/jobs/{ok}.json").status_code == 404  # not the reviewer's job
    assert c.get("/web/static/jobs.js").headers["content-type"].startswith("text/javascript")


def test_a_job_abandoned_by_a_stopped_worker_is_failed_not_left_running(site):
    _, registry = site
    maker = users.listing(registry)[0]
    job = jobs.submit(registry, "test-sum", {"numbers": [1]}, maker.id, "test:3")
    from sqlalchemy import update

    from footprint.registry.schema import Job

    with registry.write() as s:  # as a worker that took the job and then died: its lease runs out
        s.execute(update(Job).where(Job.id == job).values(status="running", worker="gone",
                                                           lease_until=jobs._now()))
    time.sleep(0.01)
    assert jobs.fail_abandoned(registry) == 1
    assert "server process running this job stopped" in jobs.get(registry, job).error


def test_user_text_is_escaped_in_pages(site):
    client, registry = site
    with pytest.raises(RegistryError):
        users.add(registry, "<script>@example.com", "reviewer", PASSWORD)
    c = client()
    login(c, "admin@example.com")
    page = c.get("/admin/users?done=1").text
    assert "<script>" not in page and "Content-Security-Policy" in c.get("/admin/users").headers


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_worker_processes_take_each_job_once(tmp_path, database):
    """Two servers' job workers over one database: every queued job runs exactly once."""
    import multiprocessing

    from servicedata import postgres_url

    url = f"sqlite:///{tmp_path / 'registry.sqlite'}" if database == "sqlite" else postgres_url()
    if url is None:
        pytest.skip("PostgreSQL tests need FOOTPRINT_TEST_POSTGRES_URL (set by .ci/run)")
    marks = tmp_path / "marks"
    marks.mkdir()
    registry = Registry.open(tmp_path, url)
    ids = [jobs.submit(registry, "test-mark", {"folder": str(marks)}, 1, f"test:{n}") for n in range(12)]
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    workers = [ctx.Process(target=jobs.worker_main, args=(str(tmp_path), url, [__name__], f"w{n}", stop))
               for n in range(2)]
    for w in workers:
        w.start()
    try:
        done = [jobs.wait(registry, i, timeout=120) for i in ids]
    finally:
        stop.set()
        for w in workers:
            w.join(30)
        registry.close()
    assert [j.status for j in done] == ["done"] * 12, [j.error for j in done]
    assert sorted(p.name for p in marks.iterdir()) == sorted(f"job-{i}" for i in ids)


def test_admin_add_user_refusal_keeps_what_was_typed(site):
    client, registry = site
    c = client()
    login(c, "admin@example.com")
    page = c.get("/admin/users")
    r = c.post("/admin/users", data={"email": "new.maker@example.com", "role": "manufacturer", "enterprises": "",
                                     "password": PASSWORD, "csrf_token": token_of(page.text)})
    assert r.status_code == 400 and "needs at least one enterprise id" in r.text
    assert 'value="new.maker@example.com"' in r.text and '<option value="manufacturer" selected>' in r.text
    r = c.post("/admin/users", data={"email": "new.maker@example.com", "role": "manufacturer",
                                     "enterprises": "ENT-A, ENT-B", "password": PASSWORD,
                                     "csrf_token": token_of(page.text)})
    assert r.status_code == 303 and "User added." in c.get(r.headers["location"]).text
    added = next(u for u in users.listing(registry) if u.email == "new.maker@example.com")
    assert added.enterprises == ("ENT-A", "ENT-B")
