"""SimaPro CSV through bw2io's ``SimaProCSVImporter``, offline.

bw2io's strategies need its core migrations (unit names, SimaPro water and biosphere names), which
``create_core_migrations()`` writes from files bw2io bundles. Elementary flows bw2io leaves unlinked
get a second chance through :mod:`.elementary` (so ``Carbon dioxide`` without a suffix still counts
as fossil CO2); what is still unlinked is reported, and multi-output processes are allocated by the
percentages SimaPro exports.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections import Counter
from pathlib import Path

from footprint.exchange.background.elementary import Biosphere
from footprint.exchange.background.report import LinkReport, MultiOutput
from footprint.exchange.background.sources import read_members

SEPARATORS = {"semicolon": ";", "comma": ",", "tab": "\t"}


def convert(path: Path, db: str, bio: Biosphere, report: LinkReport):
    """Import one SimaPro CSV export (the file, or a zip holding it)."""
    import bw2io

    from footprint.exchange.background import ImportRefused, Parsed, core_migrations

    members = list(read_members(path, (".csv", ".txt")))
    if len(members) != 1:
        raise ImportRefused(f"{path}: expected one SimaPro CSV file, found {len(members)}")
    data = members[0][1]
    header = data[:4096].decode("latin-1")
    if "{SimaPro" not in header and "{CSV separator" not in header:
        raise ImportRefused(f"{path}: not a SimaPro CSV export (no {{SimaPro …}} header on the first line)")
    found = re.search(r"\{CSV separator: (\w+)\}", header)
    separator = SEPARATORS.get(found[1].lower(), ";") if found else ";"
    core_migrations()
    with contextlib.redirect_stdout(io.StringIO()):  # bw2io prints each strategy
        try:
            with tempfile.TemporaryDirectory(prefix="footprint-simapro-") as tmp:
                source = Path(tmp) / "export.csv"
                source.write_bytes(data)
                importer = bw2io.SimaProCSVImporter(str(source), db, delimiter=separator, encoding="latin-1")
            _multi_output(importer.data, report)
            importer.apply_strategies()
        except (ValueError, AssertionError, KeyError, IndexError) as e:
            raise ImportRefused(f"{path}: bw2io {bw2io.__version__} cannot read this SimaPro CSV: {e}") from e
    report.datasets_read = len({ds.get("simapro metadata", {}).get("Process identifier") or id(ds)
                                for ds in importer.data})
    names = {code: name for (name, _), code in bio.flows.items()}
    for ds in importer.data:
        for e in ds["exchanges"]:
            if e["type"] in ("technosphere", "substitution"):
                if e.get("input"):
                    report.technosphere_linked += 1
                else:
                    report.unlink("no provider in the file", f"{e['name']} [{e.get('unit', '?')}]")
            elif e["type"] == "biosphere":
                _biosphere(e, bio, names, report)
    if not importer.data:
        raise ImportRefused(f"{path}: no SimaPro processes found")
    with contextlib.redirect_stdout(io.StringIO()):
        importer.drop_unlinked(i_am_reckless=True)
    report.notes.append("SimaPro multi-output processes are allocated by the percentages in their Products rows.")
    return Parsed([{k: v for k, v in ds.items() if k != "database"} for ds in importer.data], {},
                  f"SimaPro CSV data from {path.name}")


def _biosphere(e: dict, bio: Biosphere, names: dict[str, str], report: LinkReport) -> None:
    """Count a linked flow; map one bw2io left unlinked, or report it (dropped gases by name)."""
    if not e.get("input"):
        cats = tuple(e.get("categories") or ())
        compartment = cats[0] if cats and cats[0] in ("air", "water", "soil", "natural resource") else None
        m = bio.map(e["name"], compartment)
        if m.code:
            e["input"] = ("biosphere3", m.code)
        elif m.dropped:
            entry = report.ghg_dropped.setdefault(e["name"], {"exchanges": 0, "reason": m.dropped[0],
                                                              "stand_in_kg_co2e_per_kg": m.dropped[1]})
            entry["exchanges"] += 1
            return
        else:
            report.elementary_unmapped[f"{e['name']} ({'/'.join(cats)})"] += 1
            return
    report.elementary_mapped += 1
    if e["input"][1] in bio.factors:
        report.ghg_mapped.setdefault(names[e["input"][1]], Counter())[e["name"]] += 1


def _multi_output(datasets: list[dict], report: LinkReport) -> None:
    """Processes with several Products rows, before bw2io allocates them by their percentages."""
    for ds in datasets:
        products = [e for e in ds["exchanges"] if e["type"] == "production"]
        if len(products) > 1:
            report.multi_output.append(MultiOutput(
                ds.get("simapro metadata", {}).get("Process identifier", ""), products[0]["name"],
                "allocated by the percentages SimaPro exports",
                [("", p["name"], float(p.get("allocation") or 0) / 100) for p in products], []))
