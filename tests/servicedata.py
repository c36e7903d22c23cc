"""Registries with real issued certificates for the service tests, and a local event listener.

Two small parks are computed once; each registry (SQLite, PostgreSQL) gets the same five
certificates through the real issuing path (render, sign, record with the registry's copy):

    park A (CN, CN-JS): power, profile (issued 2026-03-01), profile again (2026-03-02, supersedes)
    park B (DE, scheme cnca-2025: 2 years from issue, surveillance after 12 months): ingot, billet
        (2026-03-01); billet then withdrawn
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from conftest import ROOT
from parks import write_park
from sqlalchemy import create_engine, text

PG_ENV = "FOOTPRINT_TEST_POSTGRES_URL"
ISSUER = ROOT / "inventories" / "demo-issuer.yaml"


def postgres_url() -> str | None:
    """A clean PostgreSQL database, or None (the caller skips) when none is reachable."""
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    from footprint.registry.records import _normalise

    engine = create_engine(_normalise(url))
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception:  # noqa: BLE001
        return None
    finally:
        engine.dispose()
    return url


def compute_parks(folder: Path) -> dict:
    """Park data and results of park A and B (computed once per test module)."""
    from footprint.certificates.certification import prepare

    a = write_park(
        folder / "a", park={"region": "CN-JS"},
        facilities=[{"facility_id": "mill", "enterprise": "Suzhou Profile Co.", "enterprise_id": "91320500MA1TEST01X"},
                    {"facility_id": "pv", "enterprise": "Park Solar Co."}],
        outputs=[{"product_id": "profile", "facility_id": "mill", "unit": "kg", "amount": 1000, "mass_kg": 1,
                  "hs_code": "7604.29"},
                 {"product_id": "power", "facility_id": "pv", "unit": "kWh", "amount": 5000}],
        inputs=[{"facility_id": "mill", "ref": "power", "amount": 2000, "unit": "kWh", "data_type": "primary"},
                {"facility_id": "mill", "ref": "factor:ingot", "amount": 1.1, "unit": "t"},
                {"facility_id": "pv", "ref": "factor:module", "amount": 5000, "unit": "kWh"}],
        factors=[{"code": "ingot", "unit": "kg", "fossil": 8.0}, {"code": "module", "unit": "kWh", "fossil": 0.04}])
    b = write_park(
        folder / "b", park={"country": "DE"},
        facilities=[{"facility_id": "smelter", "enterprise": "Rhein Aluminium GmbH", "allocation": "mass"}],
        outputs=[{"product_id": "ingot", "facility_id": "smelter", "unit": "t", "amount": 10, "mass_kg": 1000,
                  "hs_code": "7601.10"},
                 {"product_id": "billet", "facility_id": "smelter", "unit": "kg", "amount": 5000, "mass_kg": 1}],
        inputs=[{"facility_id": "smelter", "ref": "factor:alumina", "amount": 30, "unit": "t"}],
        factors=[{"code": "alumina", "unit": "kg", "fossil": 1.2}])
    issuer_b = folder / "issuer-b.yaml"
    issuer = {k: v for k, v in yaml.safe_load(ISSUER.read_text(encoding="utf-8")).items() if k != "validity_years"}
    issuer_b.write_text(yaml.safe_dump({**issuer, "scheme": "cnca-2025"}), encoding="utf-8")
    return {"a": prepare(a, ISSUER), "b": prepare(b, issuer_b)}


@dataclass
class Issued:
    """What the tests know of the registry they serve, by name (a-power, a-profile-1, ...)."""

    url: str
    out: Path
    numbers: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    _embedded: dict[str, dict] = field(default_factory=dict)

    def embedded(self) -> dict[str, dict]:
        """name → the ProductFootprint embedded in the PDF on disk (read once)."""
        from footprint.documents import read_attachment

        if not self._embedded:
            self._embedded.update({name: json.loads(read_attachment(path.read_bytes())[1])
                                   for name, path in self.files.items()})
        return self._embedded

    def copy_to(self, url: str) -> Issued:
        """The same registry in another database (row by row, every table), to test it on PostgreSQL too."""
        from footprint.registry.records import Registry
        from footprint.registry.schema import Base

        with Registry(self.url) as source, Registry(url) as target:
            with source.engine.connect() as src, target.engine.begin() as dst:
                for table in Base.metadata.sorted_tables:
                    rows = [dict(r._mapping) for r in src.execute(table.select())]
                    if rows:
                        dst.execute(table.insert(), rows)
                    if rows and "id" in table.c and target.dialect == "postgresql":  # copied ids: move the sequence on
                        dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                         f"(SELECT max(id) FROM {table.name}))"))
        return Issued(url, self.out, self.numbers, self.files, self._embedded)


def issue_all(parks: dict, url: str, out: Path) -> Issued:
    from footprint.certificates import certification, keys
    from footprint.engine import home
    from footprint.registry.records import Registry

    key = keys.default_key(home.resolve())
    issued = Issued(url, out)
    steps = [("a", ("power", "profile"), dt.date(2026, 3, 1), ("a-power", "a-profile-1")),
             ("b", ("ingot", "billet"), dt.date(2026, 3, 1), ("b-ingot", "b-billet")),
             ("a", ("profile",), dt.date(2026, 3, 2), ("a-profile-2",))]
    with Registry(url) as registry:
        for park_key, products, day, names in steps:
            park, issuer, results = parks[park_key]
            done = certification.issue(park, issuer, results, out / park_key, key, products=products, lang="en",
                                       issue_date=day, registry=registry, backdate=True)
            for name, item in zip(names, done):
                issued.numbers[name], issued.files[name] = item.record.number, item.path
        registry.revoke(issued.numbers["b-billet"], "test: withdrawn")
    return issued


class Listener:
    """A data recipient's /3/events on loopback: records every POST; ``fail`` answers 500 that many times."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.paths: list[str] = []
        self.fail = 0
        self.arrived = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with owner.arrived:
                    if owner.fail > 0:
                        owner.fail -= 1
                        self.send_response(500)
                        self.end_headers()
                        return
                    owner.received.append(json.loads(body))
                    owner.paths.append(self.path)
                    owner.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/3/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 20) -> list[dict]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
