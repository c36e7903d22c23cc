"""The registry lookup of ``footprint verify`` (``Registry.checked``) against the lookup before it, in one process.

    python benchmarks/bench_registry_lookup.py [--home DIR] [--rounds 8] [-n 20] [--entries 100000]

Not a test. Uses the registry of ``benchmarks/bench_verify.py`` (``<home>/bench-verify/registry.sqlite``,
issued by that benchmark on its first run: 14 documents, 28 audit entries) and looks up each of its
certificate numbers ``-n`` times per round with:

- **previous**, ``Registry.checked`` before this step (:func:`checked_three_queries`): three SQLAlchemy Core
  queries on one connection in a read transaction — the row; the entries with the hash before each; the
  log's count and newest number in one aggregate, with the hash at the witnessed number — the key file
  stat-checked through a cache keyed by a new path object, the witness read with ``read_text``, each entry
  hashed through ``json.dumps`` and its signature verified with the public key;
- **footprint**, this checkout's ``Registry.checked``: one statement on a plain DB-API cursor, the witness read
  first in plain system calls, the entry hash written out key by key, a signature compared with the key's
  own (deterministic) signature of the hash before it is verified.

Rounds alternate the order (previous first, then footprint first, …) in the same process, so the machine's
drift between minutes falls on both alike; a path's figure is the median of its rounds' per-lookup CPU
(``time.process_time``) and wall times. Every lookup of both paths must return the same record and problems
(none), or it exits 1.

``--entries N`` also makes a registry of about N entries in ``<home>/bench-registry-lookup/`` (a copy of the
bench registry with N/2 synthetic certificates appended, each a ``reserve`` and an ``issue`` entry chained,
hashed and signed with the data directory's registry key, their PACT JSON cut to 2,000 characters; made
once, ~30 s and ~600 MB for 100,000), measures both paths there, then drops the two indexes this step added
(``ix_audit_log_subject``, ``ix_audit_log_seq``) and measures the previous path once more: the lookup as it
was before this step, schema included. With ``--postgres`` too, that registry is also copied there (~20 s)
and measured.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checked_three_queries(registry, number: str, conn=None):  # noqa: ANN001, ANN201 - (Record | None, problems)
    """``Registry.checked`` before issue 17's registry step (main at 476e49a), on ``conn`` if given (an open
    SQLAlchemy connection), else on a new read connection. Also the reference tests/test_registry_lookup.py
    compares the one-statement lookup with."""
    from sqlalchemy import bindparam, func, select

    from footprint.registry import audit
    from footprint.registry.records import _CERTIFICATE, _columns, _key, _record
    from footprint.registry.schema import AuditEntry

    if conn is None:
        with registry._reading.connect() as own:
            return checked_three_queries(registry, number, own)
    log = AuditEntry.__table__
    before = log.alias("before")
    subject_entries = (select(log, before.c.hash.label("before_hash"))
                       .select_from(log.outerjoin(before, before.c.seq == log.c.seq - 1))
                       .where(log.c.subject == bindparam("subject")).order_by(log.c.seq))
    extent = select(func.count(), func.max(log.c.seq),
                    select(log.c.hash).where(log.c.seq == bindparam("witnessed")).scalar_subquery())
    key = _key(number)
    row = conn.execute(_CERTIFICATE, {"number": key}).one_or_none()
    checking = registry._seal or _previous_key(registry.home)
    witnessed = _previous_witnessed(registry.witness)
    entries = list(conn.execute(subject_entries, {"subject": key}))
    count, last, held = conn.execute(extent, {"witnessed": witnessed[0] if witnessed else -1}).one()
    befores = [e.before_hash for e in entries if e.seq > 1]
    problems = audit.entry_problems(count, last, witnessed, held, entries, befores, checking)
    state = audit.replay([audit.parse(e) for e in entries])
    expected = state.rows("certificates").get(key)
    live = {key: _columns(row)} if row is not None else {}
    problems += audit.compare(state, {"certificates": live}) if expected or row is not None else []
    return (_record(row) if row else None), problems


def _previous_key(home: Path):  # noqa: ANN202 - Seal | None
    """``seal.load_for_checking`` before this step: a new path object per call, stat-checked through a cache."""
    from footprint.registry import seal

    env = os.environ.get(seal.KEY_ENV)
    path = Path(env).expanduser() if env else Path(home) / "keys" / seal.KEY_FILE
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return _previous_read(path, st.st_ino, st.st_size, st.st_mtime_ns)


def _previous_read(path: Path, _ino: int, _size: int, _mtime_ns: int):  # noqa: ANN202 - Seal
    from footprint.registry import seal

    return seal._read(path)


_previous_read = functools.lru_cache(maxsize=8)(_previous_read)


def _previous_witnessed(path: Path) -> tuple[int, str] | None:
    """``seal.witnessed`` before this step: the file read as text and parsed at every call."""
    from footprint.registry import seal

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return int(data["seq"]), str(data["hash"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise seal.SealError(f"{path}: unreadable audit witness ({e}); the audit log cannot be checked for "
                             "truncation") from None


def verified_signature(self, entry_hash: str, signature: str | None) -> bool:  # noqa: ANN001 - a Seal
    """``Seal.check`` before this step: every signature verified with the public key."""
    from cryptography.exceptions import InvalidSignature

    if not signature:
        return False
    try:
        self.public_key.verify(base64.b64decode(signature, validate=True), bytes.fromhex(entry_hash))
    except (InvalidSignature, ValueError):
        return False
    return True


def json_entry_hash(seq: int, at: str, action: str, subject: str, detail: str, prev_hash: str) -> str:
    """``audit.entry_hash`` as defined: SHA-256 of ``json.dumps`` of the entry (sorted keys, no spaces, UTF-8)."""
    entry = {"seq": seq, "at": at, "action": action, "subject": subject, "detail": detail, "prev": prev_hash}
    return hashlib.sha256(json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
                          ).hexdigest()


# ---- the measurement ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--home", default=os.environ.get("FOOTPRINT_BENCH_HOME", "/tmp/footprint-bench-home"),
                   help="throwaway data directory (never your real FOOTPRINT_HOME); bench_verify.py's registry")
    p.add_argument("--rounds", type=int, default=8, help="rounds per path, alternating which goes first")
    p.add_argument("-n", type=int, default=20, help="lookups of every number per path and round")
    p.add_argument("--entries", type=int, default=0, help="also measure on a registry of about this many entries")
    p.add_argument("--postgres", metavar="URL", help="also measure on a copy of the bench registry in this "
                   "PostgreSQL database (emptied first: a throwaway one, e.g. .ci/postgres.sh's)")
    return p.parse_args(argv)


def _numbers(registry) -> list[str]:  # noqa: ANN001 - Registry
    from sqlalchemy import text

    with registry.engine.connect() as conn:
        return [n for (n,) in conn.execute(text("SELECT number FROM certificates ORDER BY id"))]


def _sample(numbers: list[str], k: int = 14) -> list[str]:
    """``k`` numbers spread over the registry (all of a small one)."""
    step = max(1, len(numbers) // k)
    return numbers[::step][:k]


def ab(registry, numbers: list[str], rounds: int, n: int, only: str | None = None  # noqa: ANN001 - Registry
       ) -> dict[str, tuple[float, float]]:
    """Per path (or ``only`` one), the median over rounds of (CPU, wall) ms per lookup; the two paths must agree
    on every number."""
    from footprint.registry import audit, seal

    hashing, checking = audit.entry_hash, seal.Seal.check

    def use(name: str) -> None:
        audit.entry_hash = json_entry_hash if name == "previous" else hashing
        seal.Seal.check = verified_signature if name == "previous" else checking

    paths = {"previous": lambda number: checked_three_queries(registry, number), "footprint": registry.checked}
    if only:
        paths = {only: paths[only]}
    for number in numbers if not only else ():
        use("previous")
        previous = paths["previous"](number)
        use("footprint")
        if paths["footprint"](number) != previous:
            raise SystemExit(f"{number}: the two lookups differ")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    for i in range(rounds):
        for name in (list(paths) if i % 2 == 0 else list(paths)[::-1]):
            use(name)
            lookup = paths[name]
            c, w = time.process_time(), time.perf_counter()
            for _ in range(n):
                for number in numbers:
                    lookup(number)
            calls = n * len(numbers)
            times[name].append(((time.process_time() - c) * 1e3 / calls, (time.perf_counter() - w) * 1e3 / calls))
    use("footprint")
    return {name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
            for name, ts in times.items()}


def _print(title: str, figures: dict[str, tuple[float, float]]) -> None:
    print(title)
    for name, (cpu, wall) in figures.items():
        print(f"  {name:<28} {cpu:8.3f} ms CPU  {wall:8.3f} ms wall per lookup")
    if "previous" in figures and "footprint" in figures:
        (pc, pw), (fc, fw) = figures["previous"], figures["footprint"]
        print(f"  previous ÷ footprint: {pc / fc:.2f}× CPU, {pw / fw:.2f}× wall")


def synthesise(source: Path, target: Path, home: Path, entries: int) -> Path:
    """A copy of ``source`` with ``entries // 2`` certificates appended (module docstring); made once."""
    from sqlalchemy import insert, select, text

    from footprint.registry import audit, seal
    from footprint.registry.records import _CERTIFICATES, Registry, _columns, _NewRow
    from footprint.registry.schema import AuditEntry

    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".part")
    shutil.copy(source, part)
    with Registry(f"sqlite:///{part}", home) as registry:
        key = seal.load(home)
        with registry.engine.connect() as conn:
            model = conn.execute(select(_CERTIFICATES).order_by(_CERTIFICATES.c.id).limit(1)).one()._asdict()
            seq, prev, at = conn.execute(text("SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1")).one()
        rows, logged = [], []
        for i in range(1, entries // 2 + 1):
            number = f"FP-SYNTH-2026-{i:06d}-X"
            row = _NewRow(**{**model, "number": number, "park": "synth", "sequence": i, "product_id": f"p{i}",
                             "pact_json": (model["pact_json"] or "")[:2000]})
            del row.id
            rows.append(vars(row))
            for action, detail in (("reserve", {"park": "synth", "year": row.year, "sequence": i}),
                                   ("issue", {"row": _columns(row)})):
                seq += 1
                text_ = audit._canonical(detail).decode()
                digest = audit.entry_hash(seq, at, action, number, text_, prev)
                logged.append({"seq": seq, "at": at, "action": action, "subject": number, "detail": text_,
                               "prev_hash": prev, "hash": digest, "signature": key.sign(digest)})
                prev = digest
        with registry.engine.begin() as conn:
            conn.execute(insert(_CERTIFICATES), rows)
            conn.execute(insert(AuditEntry.__table__), logged)
            conn.execute(text("INSERT INTO counters (park, year, last) VALUES ('synth', :y, :n)"),
                         {"y": model["year"], "n": entries // 2})
    os.replace(part, target)
    return target


def copy_to(source: Path, url: str, home: Path) -> str:
    """The bench registry's certificates, counters and audit log copied into the (emptied) database at ``url``,
    with its witness: the same registry on PostgreSQL."""
    from sqlalchemy import create_engine, insert, select, text

    from footprint.registry import seal
    from footprint.registry.records import Registry, _normalise
    from footprint.registry.schema import AuditEntry, Certificate, Counter

    engine = create_engine(_normalise(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    with Registry(f"sqlite:///{source}", home) as old, Registry(url, home) as new:
        with old.engine.connect() as read, new.engine.begin() as write:
            for table in (Certificate.__table__, Counter.__table__, AuditEntry.__table__):
                write.execute(insert(table), [r._asdict() for r in read.execute(select(table))])
            newest, digest = write.execute(text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).one()
        seal.witness_path(home, _normalise(url)).unlink(missing_ok=True)
        seal.witness(new.witness, newest, digest)
    return url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from footprint.engine import home

    data_dir = home.activate(args.home)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_verify import documents
    from sqlalchemy import text

    from footprint.registry import seal
    from footprint.registry.records import Registry

    db, _pdfs = documents(data_dir)
    print(f"registry lookup of footprint verify — {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"{args.rounds} rounds × {args.n} lookups of each number per path, alternating", flush=True)
    with Registry(f"sqlite:///{db}", data_dir) as registry:
        numbers = _numbers(registry)
        _print(f"\nbench registry {db} ({len(numbers)} certificates):", ab(registry, numbers, args.rounds, args.n))
    if args.postgres:
        with Registry(copy_to(db, args.postgres, data_dir), data_dir) as registry:
            numbers = _numbers(registry)
            _print(f"\nthe same registry on PostgreSQL ({registry.engine.url.render_as_string(hide_password=True)}, "
                   "loopback):", ab(registry, numbers, args.rounds, args.n))
    if args.entries:
        big = synthesise(db, data_dir / "bench-registry-lookup" / f"registry-{args.entries}.sqlite", data_dir,
                         args.entries)
        with Registry(f"sqlite:///{big}", data_dir) as registry:
            with registry.engine.connect() as conn:
                newest, digest = conn.execute(text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).one()
            seal.witness(registry.witness, newest, digest)
            numbers = _sample(_numbers(registry))
            _print(f"\nsynthesised registry {big} ({newest} entries, {big.stat().st_size / 2**20:.0f} MiB), "
                   f"{len(numbers)} numbers spread over it:", ab(registry, numbers, args.rounds, max(1, args.n // 4)))
            with registry.engine.begin() as conn:
                conn.execute(text("DROP INDEX ix_audit_log_subject"))
                conn.execute(text("DROP INDEX ix_audit_log_seq"))
            try:
                _print("  the same registry without ix_audit_log_subject and ix_audit_log_seq (the schema before "
                       "this step):", ab(registry, numbers, 3, 1, only="previous"))
            finally:
                with registry.engine.begin() as conn:
                    conn.execute(text("CREATE INDEX ix_audit_log_subject ON audit_log (subject, seq)"))
                    conn.execute(text("CREATE INDEX ix_audit_log_seq ON audit_log (seq)"))
        if args.postgres:
            with Registry(copy_to(big, args.postgres, data_dir), data_dir) as registry:
                with registry.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
                _print("\n  the same registry on PostgreSQL:", ab(registry, numbers, 3, max(1, args.n // 4)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
