"""The audit log proves itself (issue 15): each forgery of the issue, made with SQL access but without
the registry key, is caught by ``audit verify`` — and where it would let a certificate out, by the
code that relies on it. SQLite and, when reachable, PostgreSQL."""

from __future__ import annotations

import json

import pytest
from certdocs import document
from conftest import ROOT
from sqlalchemy import text
from test_registry import _disable_append_only, registry, signer, url  # noqa: F401 - fixtures

from footprint.certificates import issuing
from footprint.registry import audit, reviewers
from footprint.registry import statement as statements
from footprint.registry.records import Registry
from footprint.review.decisions import NotApproved, decide, latest_decision

BUNDLE = "b" * 64


def _problems(registry) -> str:  # noqa: F811 - the fixture's name
    report = registry.audit_report()
    assert not report.ok
    return "\n".join(report.problems)


def _entries(registry) -> list[dict]:  # noqa: F811
    with registry.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM audit_log ORDER BY seq"))]


def _append_raw(registry, action: str, subject: str, detail: dict, signature: str | None = None) -> None:  # noqa: F811
    """What someone with SQL access can do: a correctly hash-chained entry, without the registry key."""
    last = _entries(registry)[-1]
    seq, at, body = last["seq"] + 1, last["at"], json.dumps(detail, sort_keys=True, separators=(",", ":"))
    digest = audit.entry_hash(seq, at, action, subject, body, last["hash"])
    with registry.engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (seq, at, action, subject, detail, prev_hash, hash, signature) "
                          "VALUES (:s, :at, :a, :sub, :d, :p, :h, :sig)"),
                     {"s": seq, "at": at, "a": action, "sub": subject, "d": body, "p": last["hash"], "h": digest,
                      "sig": signature})


@pytest.fixture
def reviewed(registry):  # noqa: F811
    reviewers.add(registry, "li.wei", "Li Wei", "Demo Verification Ltd")
    statement = statements.load(ROOT / "inventories" / "demo-statement.yaml")
    decide(registry, "demo-park", "bar", True, "li.wei", "rows checked", BUNDLE, 50, 2, statement)
    return registry


def test_an_honest_registry_verifies(reviewed, signer, tmp_path):  # noqa: F811
    issued = issuing.issue(reviewed, signer, "demo-park", tmp_path, lambda r: document(r))
    reviewed.revoke(issued.record.number, "test")
    report = reviewed.audit_report()
    assert report.ok, report.problems
    assert report.entries == 5 and report.key == reviewed.seal().fingerprint  # add, decide, reserve, issue, revoke


def test_an_approval_inserted_in_sql_is_caught(reviewed):
    decide(reviewed, "demo-park", "bar", False, "li.wei", "meter calibration missing", BUNDLE, 50, 2)
    forged = {"decision": "approve", "reviewer": "li.wei", "reviewer_name": "Nobody (forged row)",
              "reviewer_organisation": "x", "comment": "ok", "bundle_sha256": BUNDLE, "iterations": 50, "seed": 2}
    _append_raw(reviewed, "review", "demo-park/bar", forged)  # the triggers allow inserts
    with pytest.raises(NotApproved, match="not signed by the registry key"):
        latest_decision(reviewed, "demo-park", "bar")
    assert "not signed by the registry key (inserted or re-chained" in _problems(reviewed)
    _append_raw(reviewed, "review", "demo-park/bar", forged, signature="AAAA" * 22)  # a made-up signature too
    assert "entry 5 (review demo-park/bar): not signed" in _problems(reviewed)


def test_an_edited_and_rechained_log_is_caught(reviewed):
    decide(reviewed, "demo-park", "bar", False, "li.wei", "meter calibration missing", BUNDLE, 50, 2)
    _disable_append_only(reviewed)
    rows = _entries(reviewed)
    with reviewed.engine.begin() as conn:  # turn the rejection into an approval and recompute every hash after it
        prev = rows[-2]["hash"]
        for row in rows[-1:]:
            detail = row["detail"].replace('"reject"', '"approve"')
            digest = audit.entry_hash(row["seq"], row["at"], row["action"], row["subject"], detail, prev)
            conn.execute(text("UPDATE audit_log SET detail = :d, prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"d": detail, "p": prev, "h": digest, "s": row["seq"]})
            prev = digest
    with pytest.raises(NotApproved, match="tampered"):
        latest_decision(reviewed, "demo-park", "bar")
    problems = _problems(reviewed)
    assert "entry 3 (review demo-park/bar): not signed by the registry key" in problems


def test_a_deleted_trailing_rejection_is_caught(reviewed):
    decide(reviewed, "demo-park", "bar", False, "li.wei", "meter calibration missing", BUNDLE, 50, 2)
    _disable_append_only(reviewed)
    with reviewed.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"))
    # the older approval is now the newest decision: it must not be relied on
    with pytest.raises(NotApproved, match="cut short"):
        latest_decision(reviewed, "demo-park", "bar")
    assert "entry 3" in _problems(reviewed) and "cut short" in _problems(reviewed)


def test_an_entry_deleted_in_the_middle_is_caught(reviewed):
    decide(reviewed, "demo-park", "bar", False, "li.wei", "meter calibration missing", BUNDLE, 50, 2)
    _disable_append_only(reviewed)
    with reviewed.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    problems = _problems(reviewed)
    assert "entries 2–2 are missing" in problems and "entry 3: does not link" in problems
    with pytest.raises(NotApproved, match="deleted"):
        latest_decision(reviewed, "demo-park", "bar")


def test_an_unrevoke_in_sql_is_caught_and_verify_sees_it(registry, signer, tmp_path):  # noqa: F811
    issued = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r))
    number = issued.record.number
    registry.revoke(number, "wrong grid factor")
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE certificates SET status = 'active', revoked_at = NULL, revocation_reason = NULL, "
                          "status_reason = NULL WHERE number = :n"), {"n": number})
    assert registry.get(number).status == "active"  # what the forger wanted
    problems = _problems(registry)
    assert f"certificates {number}: status is 'active' in the database but 'withdrawn' by the audit log" in problems
    record, found = registry.checked(number)
    assert record.status == "active" and any("'withdrawn' by the audit log" in p for p in found)


def test_swapped_hashes_are_caught(registry, signer, tmp_path):  # noqa: F811
    issued = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r))
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE certificates SET pdf_sha256 = :f, data_sha256 = :f"), {"f": "f" * 64})
    problems = _problems(registry)
    assert f"pdf_sha256 is '{'f' * 64}' in the database but '{issued.pdf_sha256}' by the audit log" in problems
    assert "data_sha256" in problems
    assert registry.checked(issued.record.number)[1]


def test_rows_added_deleted_or_counters_lowered_in_sql_are_caught(registry, signer, tmp_path):  # noqa: F811
    first = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r))
    second = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r, product_id="b"))
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM certificates WHERE number = :n"), {"n": second.record.number})
        conn.execute(text("UPDATE counters SET last = 1"))  # the next issue would reuse number 2
        conn.execute(text("INSERT INTO reviewers (id, name, organisation, active, added_at) "
                          "VALUES ('ghost', 'Nobody', 'x', true, '2026-01-01')"))
    problems = _problems(registry)
    assert f"certificates {second.record.number}: in the audit log but not in the database (row deleted)" in problems
    assert "counters demo-park/" in problems and "last is 1 in the database but 2 by the audit log" in problems
    assert "reviewers ghost: in the database but not in the audit log" in problems
    assert not registry.checked(first.record.number)[1]  # the untouched certificate still checks out


def test_writes_need_the_registry_key(registry, tmp_path, monkeypatch):  # noqa: F811
    reviewers.add(registry, "li.wei", "Li Wei", "Demo Verification Ltd")
    monkeypatch.setenv("FOOTPRINT_REGISTRY_KEY", str(tmp_path / "elsewhere.pem"))
    with Registry(registry.url, registry.home) as other:  # a process without the key
        with pytest.raises(Exception, match="audit key .* is missing"):
            reviewers.add(other, "zhao.min", "Zhao Min", "x")
        assert "signed, but the registry key is missing" in "\n".join(other.audit_report().problems)


def _checked_by_orm(registry, number: str):  # noqa: F811
    """``Registry.checked`` as it was before issue 17's last step (kept in the verify benchmark, its baseline)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_verify", ROOT / "benchmarks" / "bench_verify.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.checked_by_orm(registry, number)


def test_checked_in_three_queries_says_what_the_orm_lookup_says(registry, signer, tmp_path):  # noqa: F811
    """Every tampering of the tests above, one after the other: the same record and the same problems."""
    first = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r))
    second = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r, product_id="b"))
    third = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r, product_id="c"))
    registry.revoke(first.record.number, "wrong grid factor")
    numbers = [first.record.number, second.record.number, third.record.number, "FP-NONE-2026-00001-X"]

    def same() -> None:
        for n in numbers:
            fast, reference = registry.checked(n), _checked_by_orm(registry, n)
            assert fast == reference, n

    same()
    assert registry.checked(first.record.number)[0].status == "withdrawn"
    _disable_append_only(registry)
    tamperings = [
        "UPDATE certificates SET status = 'active', revoked_at = NULL, revocation_reason = NULL WHERE number = :n1",
        "UPDATE certificates SET pdf_sha256 = :f WHERE number = :n2",
        "UPDATE audit_log SET detail = replace(detail, 'demo-park', 'demo-parx') WHERE subject = :n3",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
        "DELETE FROM certificates WHERE number = :n2",
        "UPDATE audit_log SET signature = NULL WHERE subject = :n1",
    ]
    for sql in tamperings:
        with registry.engine.begin() as conn:
            conn.execute(text(sql), {"n1": numbers[0], "n2": numbers[1], "n3": numbers[2], "f": "f" * 64})
        same()
    problems = [p for n in numbers for p in registry.checked(n)[1]]
    assert any("entries were deleted" in p for p in problems) and any("cut short" in p for p in problems)
    assert any("was edited or re-chained" in p for p in problems) and any("not signed" in p for p in problems)
    assert any("row deleted" in p for p in problems) and any("row added outside" in p for p in problems)
    assert any("'demo-parx' by the audit log" in p for p in problems)
