"""Registry: numbers, statuses, supersession, audit chain, migrations, all-or-nothing issuing,
and unique numbers under concurrent issuing — on SQLite and, when reachable, PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time

import pytest
from certdocs import document
from sqlalchemy import text

from footprint.certificates import issuing, keys, signing
from footprint.engine import home
from footprint.registry import audit, seal
from footprint.registry.records import (
    Registry,
    RegistryError,
    _head_revision,
    check_character,
    format_number,
    parse_number,
)

PG_ENV = "FOOTPRINT_TEST_POSTGRES_URL"


def _postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (set by .ci/run, which starts a server on loopback)")
    from sqlalchemy import create_engine

    from footprint.registry.records import _normalise

    engine = create_engine(_normalise(url))
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no PostgreSQL server reachable at {url}: {type(e).__name__}")
    finally:
        engine.dispose()
    seal.witness_path(home.resolve(), _normalise(url)).unlink(missing_ok=True)  # a new database: forget the old head
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return _postgres_url()


@pytest.fixture
def registry(url):
    with Registry(url) as r:
        yield r


@pytest.fixture(scope="module")
def signer() -> signing.DocumentSigner:
    return signing.DocumentSigner(keys.default_key(home.resolve()))


def test_numbers_have_a_check_character_that_catches_typos():
    number = format_number("demo-park", 2026, 17)
    assert number.startswith("FP-DEMO-PARK-2026-00017-")
    assert parse_number(number) == ("fp-demo-park", 2026, 17)
    assert format_number("demo-park", 2026, 17, "DEMO-PCF").startswith("DEMO-PCF-DEMO-PARK-2026-00017-")
    body, check = number[:-2], number[-1]
    for i, ch in enumerate(body):  # ISO 7064 MOD 37,36 catches every single substitution...
        if ch.isalnum():
            for other in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".replace(ch, ""):
                assert check_character(body[:i] + other + body[i + 1:]) != check
    swapped = number[:21] + number[22] + number[21] + number[23:]  # ...and adjacent transpositions
    assert swapped != number
    with pytest.raises(RegistryError, match="check character"):
        parse_number(swapped)
    with pytest.raises(RegistryError, match="not a certificate number"):
        parse_number("hello")


def test_schema_is_migrated_by_alembic_and_reopening_is_a_no_op(registry, url):
    with registry.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == _head_revision()
    Registry(url).close()
    with registry.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_issue_supersede_revoke_suspend_and_the_audit_chain(registry, signer, tmp_path):
    first = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r))
    assert first.record.status == "active" and first.path.exists()
    assert first.record.pdf_sha256 == first.pdf_sha256
    second = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r, total=11.0))
    old = registry.get(first.record.number)
    assert old.status == "superseded" and old.superseded_by == second.record.number
    assert second.record.supersedes == first.record.number
    other = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r, product_id="billet"))
    assert registry.suspend(other.record.number, "surveillance audit pending").status == "suspended"
    assert registry.reinstate(other.record.number, "audit passed").status == "active"
    revoked = registry.revoke(second.record.number, "wrong electricity factor")
    assert revoked.status == "withdrawn" and revoked.revocation_reason == "wrong electricity factor"
    assert revoked.revoked_at is not None
    with pytest.raises(RegistryError, match="cannot revoke"):
        registry.revoke(second.record.number, "again")
    with pytest.raises(RegistryError, match="no certificate"):
        registry.revoke(format_number("demo-park", 2026, 999), "unknown")
    with pytest.raises(RegistryError, match="reason"):
        registry.revoke(other.record.number, "  ")
    report = registry.audit_report()
    assert report.ok, report.problems
    with registry.read() as s:
        actions = [e.action for e in s.query(audit.AuditEntry).order_by(audit.AuditEntry.seq)]
    assert actions == ["reserve", "issue", "reserve", "issue", "supersede", "reserve", "issue", "suspend", "reinstate",
                       "revoke"]


def _disable_append_only(registry):
    with registry.engine.begin() as conn:
        if registry.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))


def test_audit_log_is_append_only_and_edits_or_deletions_are_detected(registry, signer, tmp_path):
    issued = [issuing.issue(registry, signer, "demo-park", tmp_path, lambda r, i=i: document(r, product_id=f"p{i}"))
              for i in range(3)]
    registry.revoke(issued[0].record.number, "test")
    with pytest.raises(Exception, match="append-only"):
        with registry.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET detail = '{}' WHERE seq = 1"))
    assert registry.audit_report().ok

    _disable_append_only(registry)  # someone with database access goes around the triggers
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = replace(detail, 'test', 'other') WHERE action = 'revoke'"))
    report = registry.audit_report()
    assert not report.ok and any("edited" in p for p in report.problems)

    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    assert any("missing" in p or "does not link" in p for p in registry.audit_report().problems)


def test_deleting_the_last_entry_is_detected(registry, signer, tmp_path):
    issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r))
    last = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r, product_id="x"))
    _disable_append_only(registry)
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"))
    report = registry.audit_report()
    assert any("cut short" in p for p in report.problems)  # the witness still names the deleted entry
    assert any(last.record.number in p and "not in the audit log" in p for p in report.problems)


class Boom(RuntimeError):
    pass


def _fail(*_a, **_k):
    raise Boom("injected failure")


@pytest.mark.parametrize("step", ["render", "sign", "write", "record"])
def test_a_failure_at_any_step_leaves_nothing_behind(registry, signer, tmp_path, monkeypatch, step):
    out = tmp_path / "out"
    render = (lambda r: _fail()) if step == "render" else (lambda r: document(r))
    if step == "sign":
        monkeypatch.setattr(signer, "sign", _fail)
    elif step == "write":
        seal.load(registry.home, create=True)  # the registry key exists before fsync fails everywhere
        monkeypatch.setattr(issuing.os, "fsync", _fail)  # the file is half written when it fails
    elif step == "record":
        real = audit.append

        def fail_issue(session, action, *a, **k):  # inside the registry transaction, after the row insert
            return _fail() if action == "issue" else real(session, action, *a, **k)

        monkeypatch.setattr(audit, "append", fail_issue)
    with pytest.raises(issuing.IssueError, match="injected failure"):
        issuing.issue(registry, signer, "demo-park", out, render)
    monkeypatch.undo()
    assert registry.records() == []
    assert not out.exists() or list(out.iterdir()) == []
    issued = issuing.issue(registry, signer, "demo-park", out, lambda r: document(r))
    _, year, sequence = parse_number(issued.record.number)
    assert sequence == 2  # number 1 was voided, never reused
    assert [p.name for p in out.iterdir()] == [issued.path.name]
    with registry.read() as s:
        entries = [(e.action, e.subject) for e in s.query(audit.AuditEntry).order_by(audit.AuditEntry.seq)]
    first = format_number("demo-park", year, 1)
    assert entries == [("reserve", first), ("void", first), ("reserve", issued.record.number),
                       ("issue", issued.record.number)]
    assert registry.audit_report().ok


def test_an_existing_file_is_never_overwritten(registry, signer, tmp_path):
    victim = tmp_path / "same.pdf"
    victim.write_bytes(b"someone else's certificate")
    with pytest.raises(issuing.IssueError):
        issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r), file_name=lambda r: "same.pdf")
    assert victim.read_bytes() == b"someone else's certificate" and registry.records() == []


PROCESSES, EACH = 8, 3


def test_concurrent_processes_get_unique_numbers(url, tmp_path):
    p12 = keys.ensure_demo(home.resolve()).signer
    start_at = time.time() + 4  # all start together once imported
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(PROCESSES, mp_context=ctx) as pool:
        from workers import issue_many

        futures = [pool.submit(issue_many, url, str(p12), str(tmp_path / "out"), EACH, start_at)
                   for _ in range(PROCESSES)]
        numbers = [n for f in futures for n in f.result(timeout=300)]
    assert len(numbers) == len(set(numbers)) == PROCESSES * EACH
    with Registry(url) as registry:
        records = registry.records()
        assert sorted(r.number for r in records) == sorted(numbers)
        assert sorted(parse_number(n)[2] for n in numbers) == list(range(1, PROCESSES * EACH + 1))  # no gaps
        report = registry.audit_report()
        assert report.ok and report.entries == 2 * PROCESSES * EACH  # a reserve and an issue entry each
    assert len(list((tmp_path / "out").glob("*.pdf"))) == PROCESSES * EACH


def test_a_registry_of_revision_0001_is_upgraded_on_opening(url):
    from alembic import command
    from sqlalchemy import inspect

    from footprint.registry.records import _engine, _migrations_config

    engine = _engine(url)
    with engine.begin() as conn:
        command.upgrade(_migrations_config(conn), "0001")
    assert "certificate_copies" not in inspect(engine).get_table_names()
    engine.dispose()
    with Registry(url) as registry:
        tables = set(inspect(registry.engine).get_table_names())
        with registry.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == _head_revision()
    assert {"certificate_copies", "api_clients", "access_tokens", "pact_events"} <= tables
