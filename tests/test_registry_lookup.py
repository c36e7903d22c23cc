"""``Registry.checked`` — verify's registry lookup in one statement on a plain cursor — says exactly what the
lookup before it said (three SQLAlchemy Core queries, kept in benchmarks/bench_registry_lookup.py): the same
record and the same problems, word for word, on a clean registry and after each tampering, on SQLite and,
when reachable, PostgreSQL. And the entry hash written out key by key is ``json.dumps``' hash."""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import json
import os

import pytest
from conftest import ROOT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from test_registry import _disable_append_only, registry, url  # noqa: F401 - fixtures

from footprint.registry import audit, seal
from footprint.registry.records import NewCertificate, Registry

_spec = importlib.util.spec_from_file_location("bench_registry_lookup",
                                              ROOT / "benchmarks" / "bench_registry_lookup.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)  # no lone surrogates (UTF-8 cannot hold them)


@settings(max_examples=300, deadline=None)
@given(seq=st.integers(min_value=-2**70, max_value=2**70), at=_TEXT, action=_TEXT, subject=_TEXT,
       detail=st.one_of(_TEXT, st.dictionaries(_TEXT, st.one_of(_TEXT, st.integers(), st.floats(allow_nan=False)),
                                               max_size=4).map(lambda d: json.dumps(d, ensure_ascii=False))),
       prev=_TEXT)
def test_the_entry_hash_is_the_hash_of_json_dumps(seq, at, action, subject, detail, prev):
    """Quotes, backslashes, control characters (the path through ``json.dumps``), CJK, emoji, huge numbers."""
    assert audit.entry_hash(seq, at, action, subject, detail, prev) == \
        bench.json_entry_hash(seq, at, action, subject, detail, prev)


@pytest.mark.parametrize("odd", [None, True, 2.5])
def test_an_entry_hash_of_other_types_is_json_dumps_hash_too(odd):
    """A NULL column or a number where text belongs goes through ``json.dumps`` as before (``True`` is no int here)."""
    assert audit.entry_hash(odd if odd is not None else 1, "t", "a", "s", odd, "p") == \
        bench.json_entry_hash(odd if odd is not None else 1, "t", "a", "s", odd, "p")


def _certificate(product: str, n: int) -> NewCertificate:
    return NewCertificate(
        product_id=product, product_name=f"铝合金型材 {product}", holder="Jiangsu Demo Co., Ltd.", unit="kg",
        total=12.5 + n, fossil=11.0 + n, biogenic=0.0, luc=1.5, data_sha256=f"{n:064x}", pdf_sha256=f"{n + 100:064x}",
        file_name=f"{product}.pdf", signer="Demo Certification Body", signer_fingerprint="ab" * 32,
        signature_level="B-B", demo=True, valid_from=AT, valid_until=AT + dt.timedelta(days=900),
        holder_id="91320902MA1X", facility="Plant 1", primary_data_share=0.25, period_start="2025-01-01",
        period_end="2025-12-31", scheme="pact", pact_json=json.dumps({"id": n, "产品": product, "note": 'a "b"\\n'},
                                                                      indent=2),
        review={"reviewer": "li.wei", "seq": n})


def _issue(registry, product: str, n: int) -> str:  # noqa: F811 - the fixture's name
    reservation = registry.reserve("demo-park", 2026, "DEMO-PCF")
    registry.record(reservation, _certificate(product, n), at=AT)
    return reservation.number


def _write_key(path) -> None:  # noqa: ANN001
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
    part = path.with_name(path.name + ".part")
    part.write_bytes(pem)
    os.replace(part, path)  # a new file (inode), as a key put in place is


def test_the_one_statement_lookup_says_what_the_three_query_lookup_says(registry, tmp_path, monkeypatch):  # noqa: F811
    first, second, third = (_issue(registry, p, n) for n, p in enumerate(("a", "b", "c"), start=1))
    registry.revoke(first, "wrong grid factor")
    fourth = _issue(registry, "b", 4)  # supersedes the second: a ``supersede`` entry of the second's
    numbers = [first, second, third, fourth, "FP-NONE-2026-00001-X", third.lower()]
    key_file = tmp_path / "registry-audit.pem"
    key_file.write_bytes(seal.key_path(registry.home).read_bytes())
    monkeypatch.setenv(seal.KEY_ENV, str(key_file))
    reader = Registry(registry.url, registry.home)  # a process that only reads: the key from the file, per lookup
    said: list[list[str]] = []

    def same() -> None:
        for r in (registry, reader):
            for n in numbers:
                fast, reference = r.checked(n), bench.checked_three_queries(r, n)
                assert fast == reference, n
        said.append([p for n in numbers for p in reader.checked(n)[1]])

    try:
        same()
        assert said[-1] == [] and reader.checked(first)[0].status == "withdrawn"
        with reader.engine.connect() as conn:  # the connection the lookup ran on in autocommit, back in the pool
            assert getattr(conn.connection.driver_connection, "autocommit", False) is False
        assert reader.checked(third)[0].review == {"reviewer": "li.wei", "seq": 3}
        _disable_append_only(registry)
        tamperings = [
            "UPDATE certificates SET status = 'active', revoked_at = NULL, revocation_reason = NULL WHERE number = :n1",
            "UPDATE certificates SET pdf_sha256 = :f, total = 99.5, demo = :no WHERE number = :n2",
            "UPDATE audit_log SET detail = replace(detail, 'demo-park', 'demo-parx') WHERE subject = :n3",
            "UPDATE audit_log SET detail = detail || :nl WHERE action = 'reserve' AND subject = :n3",  # json's path
            "DELETE FROM audit_log WHERE seq = 2",
            "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
            "DELETE FROM certificates WHERE number = :n2",
            "UPDATE audit_log SET signature = NULL WHERE subject = :n1",
            "DELETE FROM audit_log WHERE subject = :n4",
        ]
        for sql in tamperings:
            with registry.engine.begin() as conn:
                conn.execute(text(sql), {"n1": first, "n2": second, "n3": third, "n4": fourth, "f": "f" * 64,
                                         "no": False, "nl": "\n"})
            same()
        everything = "\n".join(p for problems in said for p in problems)
        for words in ("entries were deleted", "cut short", "was edited or re-chained", "is not signed by the registry",
                      "row deleted", "row added outside", "'demo-parx' by the audit log", "total is 99.5",
                      "'active' in the database but 'withdrawn'"):
            assert words in everything, words

        _write_key(key_file)  # another key: no entry is signed by it
        same()
        assert f"entry 4 (issue {second}) is not signed by the registry key" in reader.checked(second)[1]
        key_file.unlink()  # no key: nothing can be checked
        same()
        assert f"entry 4 (issue {second}) is not signed by the registry key" in reader.checked(second)[1]

        with registry.engine.connect() as conn:
            newest = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar()
        seal.witness(registry.witness, newest + 3, "e" * 64)  # a newer head written a moment ago: seen at once
        same()
        assert f"entry {newest + 3} seen by this data directory is not in the log" in "\n".join(said[-1])
    finally:
        reader.close()


def test_an_unreadable_witness_fails_the_lookup_as_before(registry, tmp_path):  # noqa: F811
    number = _issue(registry, "a", 1)
    registry.witness.write_text("{not json", encoding="utf-8")
    with pytest.raises(seal.SealError) as fast:
        registry.checked(number)
    with pytest.raises(seal.SealError) as reference:
        bench.checked_three_queries(registry, number)
    assert str(fast.value) == str(reference.value) and "unreadable audit witness" in str(fast.value)
    registry.witness.unlink()
    registry.witness.mkdir()  # a directory where the file belongs: open()'s error, naming it
    try:
        with pytest.raises(seal.SealError) as fast:
            registry.checked(number)
        with pytest.raises(seal.SealError) as reference:
            bench.checked_three_queries(registry, number)
        assert str(fast.value) == str(reference.value) and str(registry.witness) in str(fast.value)
    finally:
        registry.witness.rmdir()


def test_the_witness_is_read_at_every_lookup(tmp_path):
    """Its parse is kept for the same bytes only: a witness rewritten (even to the same length) is read anew."""
    path = tmp_path / "witness.json"
    for seq, digest in ((5, "a" * 64), (6, "b" * 64), (7, "b" * 64), (7, "c" * 64)):
        path.write_text(json.dumps({"seq": seq, "hash": digest}), encoding="utf-8")
        assert seal.witnessed(path) == (seq, digest)
    path.write_bytes(b'{"seq": 8,\r\n "hash": "d"}')
    assert seal.witnessed(path) == (8, "d")
    path.unlink()
    assert seal.witnessed(path) is None


def test_a_large_log_is_counted_and_searched_through_its_indexes(registry):  # noqa: F811
    """The lookup's count, newest number and subject search use the indexes of revision audit_log_lookup_indexes
    (SQLite's plan: a count of the narrowest index, a search of the subject index), never a scan of the log."""
    if registry.dialect != "sqlite":
        pytest.skip("the plan checked is SQLite's")
    _issue(registry, "a", 1)
    sql = registry._lookup.sql.replace("?", "NULL")
    with registry.engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        program = [row[1] for row in conn.exec_driver_sql(f"EXPLAIN {sql}")]
    assert "SCAN audit_log USING COVERING INDEX ix_audit_log_seq" in plan
    assert "SEARCH entry USING INDEX ix_audit_log_subject (subject=?)" in plan
    assert not [p for p in plan if p.startswith("SCAN") and "INDEX" not in p and "CONSTANT" not in p
                and "extent" not in p], plan
    assert "Count" in program  # the b-tree's own count of its pages' cells, not a step per entry


def test_a_signature_checked_against_the_key_s_own_is_what_verifying_says(tmp_path):
    """The key's own (deterministic) signature of a hash is the one it wrote; every other signature is verified:
    valid, altered, another key's, another hash's, not base64, empty — as the public key alone judges them."""
    path = tmp_path / "key.pem"
    _write_key(path)
    key, other = seal._read(path), Ed25519PrivateKey.generate()
    public_only = seal.Seal(key.public_key, None, path)
    digest, another = "ab" * 32, "cd" * 32
    good = key.sign(digest)
    altered = base64.b64encode(bytes([base64.b64decode(good)[0] ^ 1]) + base64.b64decode(good)[1:]).decode()
    foreign = base64.b64encode(other.sign(bytes.fromhex(digest))).decode()
    for h, signature, valid in ((digest, good, True), (another, good, False), (digest, altered, False),
                                (digest, foreign, False), (digest, "not base64!", False), (digest, "", False),
                                (digest, None, False), ("zz", good, False), (digest, good[:-4], False)):
        assert key.check(h, signature) is public_only.check(h, signature) is bench.verified_signature(
            key, h, signature) is valid, (h, signature)


def test_a_lookup_after_the_server_dropped_its_connection_runs_on_a_new_one(registry):  # noqa: F811
    """PostgreSQL: the lookup's pool pings no connection before use; one the server ended is dropped when the
    statement fails on it, and the statement runs once more on a new connection."""
    if registry.dialect != "postgresql":
        pytest.skip("SQLite has no server to end a connection")
    number = _issue(registry, "a", 1)
    before = registry.checked(number)
    with registry.engine.begin() as conn:
        ended = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert ended >= 1  # the lookup's pooled connection among them
    assert registry.checked(number) == before == bench.checked_three_queries(registry, number)
    assert before[0].number == number and before[1] == []


def test_postgresql_counts_the_log_again_only_when_its_snapshot_changed(registry):  # noqa: F811
    """The count is left out only for the snapshot the last count was made in: the plan of the lookup's statement
    with that snapshot never runs it, and any commit in between (here: an entry deleted) makes it count again."""
    if registry.dialect != "postgresql":
        pytest.skip("SQLite counts every time (the pages of ix_audit_log_seq)")
    number = _issue(registry, "a", 1)
    _issue(registry, "b", 2)
    registry.checked(number)
    snapshot, size = registry._lookup.counted
    assert size == 4 and snapshot
    with registry.engine.connect() as conn:
        now = conn.execute(text("SELECT pg_current_snapshot()::text")).scalar()
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + registry._lookup.sql,
            {"number": number, "witnessed": 4, "counted_in": now, "seq_1": 1}))
        conn.rollback()
    assert now == snapshot  # nothing committed since the lookup
    assert "Aggregate (never executed)" in plan and "Aggregate (actual" not in plan, plan  # count(*) not run
    assert registry.checked(number) == bench.checked_three_queries(registry, number)
    _disable_append_only(registry)
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    fast = registry.checked(number)
    assert fast == bench.checked_three_queries(registry, number)
    assert "the audit log has 3 entries numbered up to 4: entries were deleted" in fast[1]
    assert registry._lookup.counted[1] == 3 and registry._lookup.counted[0] != snapshot
