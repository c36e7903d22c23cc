"""Import the LCI databases users own (USLCI, ecoinvent, SimaPro CSV, openLCA JSON-LD) as Brightway
background databases a park can use as ``bg:<name>:<code>``.

Each import writes one database, records its identity (source SHA-256, format, options, footprint
version) in the database's metadata so calculation bundles can name it and ``recompute`` can refuse
another, and prints and saves a link report (``<home>/backgrounds/<name>.txt`` and ``.json``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from footprint.exchange.background.report import LinkReport, ReferenceResult
from footprint.exchange.background.sources import SourceError, sha256

FORMATS = ("ecospold1", "ecospold2", "simapro-csv", "olca-jsonld")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
RESERVED = {"biosphere3", "footprint-co2e", "open-factors"}
# Reference datasets of the USLCI FY21 Q3.01 release whose footprints the report shows:
# US grid electricity (national, 2009), natural gas burned in an industrial boiler, hot-rolled steel sheet.
USLCI_REFERENCES = ("93176", "95054", "70631")

Step = Callable[[str], None]


class ImportRefused(ValueError):
    """An import that cannot go ahead; the message says why and what to do."""


@dataclass
class Parsed:
    datasets: list[dict]
    dropped: dict[str, float]  # activity code → stand-in kg CO2e of dropped gases per run of the activity
    publication: str
    references: tuple[str, ...] = ()


def import_database(path: str | Path, fmt: str, name: str, publication: str | None = None,
                    step: Step = lambda _: None) -> LinkReport:
    """Read ``path`` in format ``fmt`` and write it as background database ``name``; returns the link report."""
    import bw2data as bd

    from footprint import __version__
    from footprint.engine.background import ensure_project

    started = time.perf_counter()
    path = Path(path)
    if fmt not in FORMATS:
        raise ImportRefused(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not NAME.match(name) or name in RESERVED or name.startswith("park"):
        raise ImportRefused(f"database name {name!r}: expected lower-case letters, digits, '.', '_' or '-' "
                            f"(at most 63), not {', '.join(sorted(RESERVED))} or park…")
    if not path.exists():
        raise ImportRefused(f"{path}: no such file or folder")
    ensure_project()
    if name in bd.databases:
        raise ImportRefused(f"a database named {name!r} exists; remove it first (footprint background remove {name})")
    step(f"Hashing {path.name}")
    options = {"publication": publication} if publication else {}
    report = LinkReport(name, fmt, path.name, sha256(path), options, f"footprint {__version__}")
    step(f"Reading {path.name} as {fmt}")
    try:
        parsed = _parse(path, fmt, name, report)
    except SourceError as e:
        raise ImportRefused(str(e)) from e
    if not parsed.datasets:
        raise ImportRefused(f"{path}: no {fmt} datasets found")
    report.datasets_written = len(parsed.datasets)
    step(f"Writing {len(parsed.datasets)} activities")
    label = publication or parsed.publication
    for ds in parsed.datasets:  # what the review's "Factors used" names as each activity's source
        ds.setdefault("source", f"{label}; dataset {ds.get('dataset') or ds.get('process') or ds['code']}")
    _write(name, parsed.datasets, {
        "format": fmt, "source": path.name, "source_sha256": report.source_sha256, "options": options,
        "footprint": report.footprint, "publication": label,
    })
    step("Computing reference results")
    _references(name, parsed, report)
    report.seconds = time.perf_counter() - started
    save_report(report)
    return report


def _parse(path: Path, fmt: str, name: str, report: LinkReport) -> Parsed:
    from footprint.exchange.background.elementary import Biosphere

    if fmt == "ecospold1":
        from footprint.exchange.background import ecospold1

        datasets, dropped = ecospold1.convert(ecospold1.read(path), name, Biosphere.load(), report)
        report.notes += [
            "EcoSpold 1 has no separate biogenic CO2: every 'Carbon dioxide' emission counts as fossil, "
            "so wood and crop datasets over-state their fossil part.",
            "'Methane' is not split into fossil and biogenic and counts as fossil (29.8, not 27.0).",
            "Allocation factors are not in the export; the rule for multi-output datasets is stated above.",
            "CO2 taken up from air (a resource) is not counted, as the IPCC 2021 method shipped gives it no factor.",
        ]
        return Parsed(datasets, dropped, ecospold1.publication(path), USLCI_REFERENCES)
    if fmt == "olca-jsonld":
        from footprint.exchange.background import olca

        return olca.convert(path, name, Biosphere.load(), report)
    if fmt == "ecospold2":
        from footprint.exchange.background import ecospold2

        return ecospold2.convert(path, name, report)
    from footprint.exchange.background import simapro

    return simapro.convert(path, name, Biosphere.load(), report)


def core_migrations() -> None:
    """bw2io's core migrations (unit names, SimaPro and pre-3.5 ecoinvent names), written offline from
    the files bw2io bundles; once per data directory."""
    import contextlib
    import io

    import bw2io
    from bw2io.migrations import migrations

    if "simapro-water" not in migrations or "fix-ecoinvent-flows-pre-35" not in migrations:
        with contextlib.redirect_stdout(io.StringIO()):
            bw2io.create_core_migrations()


def _write(name: str, datasets: list[dict], identity: dict) -> None:
    """Write the database and its identity, or nothing: a failed write removes the half-written database."""
    import bw2data as bd

    from footprint.engine.imported import record_identity

    db = bd.Database(name)
    try:
        db.register(description=f"footprint background import: {identity['publication']}")
        db.write({(name, d["code"]): {**d, "database": name} for d in datasets})
        record_identity(name, identity)
    except BaseException:
        if name in bd.databases:
            del bd.databases[name]
        raise


def _references(name: str, parsed: Parsed, report: LinkReport) -> None:
    """Footprints of the reference datasets present and, for every dataset, what the dropped gases
    would add: one factorisation gives all of them (Aᵀh = Bᵀc, Aᵀg = d, d the dropped kg CO2e per run)."""
    import warnings

    import bw2data as bd
    import numpy as np
    from scipy.sparse.linalg import splu

    from footprint.engine.background import METHODS, node_ids

    with warnings.catch_warnings():  # bw2calc advertises pypardiso on import
        warnings.simplefilter("ignore")
        import bw2calc as bc

        ids = node_ids(name)
        lca = bc.LCA({bd.get_node(id=next(iter(ids.values()))): 1}, method=METHODS["total"])
        lca.lci()
        lca.lcia()
    lu = splu(lca.technosphere_matrix.T.tocsc())
    h = lu.solve(lca.biosphere_matrix.T @ lca.characterization_matrix.diagonal())
    column = {code: lca.dicts.activity[i] for code, i in ids.items()}
    d = np.zeros(len(h))
    for code, kg in parsed.dropped.items():
        d[column[code]] = kg
    g = lu.solve(d) if d.any() else d
    g[np.abs(g) <= 1e-9 * np.abs(h)] = 0.0  # solver noise on a gas the chain does not emit is not a share
    nodes = {r["code"]: r for r in (bd.get_node(database=name, code=c) for c in parsed.references if c in ids)}
    for code, node in nodes.items():
        where = (node.get("geography") or node["location"])[:60]
        report.references.append(ReferenceResult(code, f"{node['name']} ({where})", node["unit"],
                                                 float(h[column[code]]), float(g[column[code]])))
    whole = h + g
    share = np.divide(g, whole, out=np.zeros_like(g), where=whole > 0)
    if share.any():
        worst = max(column, key=lambda c: share[column[c]])
        report.dropped_overall = {"largest_share": float(share[column[worst]]), "dataset": worst,
                                  "name": bd.get_node(database=name, code=worst)["name"],
                                  "datasets_above_0.1%": int((share > 0.001).sum()), "datasets": len(h)}


def report_paths(name: str) -> tuple[Path, Path]:
    from footprint.engine import home

    folder = home.resolve() / "backgrounds"
    return folder / f"{name}.link-report.txt", folder / f"{name}.link-report.json"


def save_report(report: LinkReport) -> None:
    from footprint.files import write_atomic

    text, data = report_paths(report.database)
    text.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(text, report.to_text().encode())
    write_atomic(data, report.to_json().encode())


def databases() -> list[dict]:
    """Every imported background database: name, format, activities, source and its SHA-256."""
    import bw2data as bd

    from footprint.engine.background import ensure_project
    from footprint.engine.imported import identity

    ensure_project()
    out = []
    for name in sorted(bd.databases):
        ident = identity(name)
        if ident:
            out.append({"name": name, "activities": len(bd.Database(name)), **ident})
    return out


def search(name: str, text: str, limit: int = 50) -> list[dict]:
    """Activities of ``name`` whose name contains every word of ``text`` (case-insensitive)."""
    import bw2data as bd
    from bw2data.backends import ActivityDataset as AD

    from footprint.engine.background import ensure_project

    ensure_project()
    if name not in bd.databases:
        raise ImportRefused(f"no background database {name!r}; `footprint background list` shows them")
    query = AD.select(AD.code, AD.name, AD.location, AD.data).where(AD.database == name)
    for word in text.split():
        query = query.where(AD.name.contains(word))
    rows = query.order_by(AD.name, AD.location, AD.code).limit(limit)
    return [{"ref": f"bg:{name}:{r.code}", "code": r.code, "name": r.name, "unit": r.data.get("unit", ""),
             "location": r.location, "geography": r.data.get("geography", "")} for r in rows]


def remove(name: str) -> None:
    """Delete an imported database and its link report."""
    import bw2data as bd

    from footprint.engine.background import ensure_project
    from footprint.engine.imported import identity

    ensure_project()
    if identity(name) is None:
        raise ImportRefused(f"no imported background database {name!r}; `footprint background list` shows them")
    del bd.databases[name]
    for p in report_paths(name):
        p.unlink(missing_ok=True)
