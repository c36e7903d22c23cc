"""EcoSpold 2 (ecoinvent) through bw2io's ``SingleOutputEcospold2Importer``.

ecoinvent's elementary flows carry biosphere3's own UUIDs, so they link by id or not at all. A
release whose flow list is newer than the one bw2io bundles (ecoinvent ≥ 3.10 against bw2io
0.9.17's 3.9 list) leaves flows unlinked: the import is refused with the flows named and what to
do, never written with emissions missing.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections import Counter
from pathlib import Path, PurePosixPath

from footprint.exchange.background.report import LinkReport
from footprint.exchange.background.sources import read_members

SHOWN = 10


def convert(path: Path, db: str, report: LinkReport):
    """Import ``.spold`` files (a folder or a zip of them) with bw2io; refuse unmatched elementary flows."""
    import bw2io

    from footprint.exchange.background import ImportRefused, Parsed, core_migrations

    core_migrations()
    with tempfile.TemporaryDirectory(prefix="footprint-ecospold2-") as tmp:
        names = set()
        for name, data in read_members(path, (".spold",)):
            flat = PurePosixPath(name).name  # only the base name is used: no path from the archive
            if flat in names:
                raise ImportRefused(f"{path}: two datasets named {flat!r}")
            names.add(flat)
            (Path(tmp) / flat).write_bytes(data)
        if not names:
            raise ImportRefused(f"{path}: no .spold files (EcoSpold 2 datasets) found")
        with contextlib.redirect_stdout(io.StringIO()):  # bw2io prints each strategy
            importer = bw2io.SingleOutputEcospold2Importer(tmp, db, use_mp=False, add_product_information=False)
            given = Counter(e["name"] for ds in importer.data for e in ds["exchanges"] if e["type"] == "technosphere")
            importer.apply_strategies()
    unlinked = list(importer.unlinked)
    biosphere = [e for e in unlinked if e.get("type") == "biosphere"]
    if biosphere:
        shown = "; ".join(f"{e.get('name')} {e.get('categories')} ({e.get('flow')})" for e in biosphere[:SHOWN])
        raise ImportRefused(
            f"{path}: {len(biosphere)} elementary flows do not match the biosphere3 bundled with bw2io "
            f"{bw2io.__version__} (the ecoinvent 3.9 elementary flow list), e.g. {shown}. ecoinvent 3.10 and later "
            "use a newer flow list; import a 3.9.x release, or a footprint whose bw2io bundles your release's "
            "elementary flows. footprint does not guess a mapping for flows it cannot match by id.")
    report.datasets_read = len(importer.data)
    linked = Counter()
    for ds in importer.data:
        for e in ds["exchanges"]:
            if e["type"] == "technosphere" and e.get("input"):
                linked[e["name"]] += 1
                report.technosphere_linked += 1
            elif e["type"] == "biosphere" and e.get("input"):
                report.elementary_mapped += 1
    for e in unlinked:
        report.unlink("no provider in the file", e.get("name", "?"))
    removed = given - linked - Counter(e.get("name", "?") for e in unlinked)
    for name, n in removed.items():
        for _ in range(n):
            report.unlink("no provider in the file (removed by bw2io's strategies)", name)
    importer.drop_unlinked(i_am_reckless=True)
    datasets = [{k: v for k, v in ds.items() if k != "database"} for ds in importer.data]
    _count_ghgs(datasets, report)
    report.notes.append("EcoSpold 2 system-model datasets are single-output already; no allocation was applied.")
    return Parsed(datasets, {}, f"EcoSpold 2 data from {path.name}")


def _count_ghgs(datasets: list[dict], report: LinkReport) -> None:
    """Greenhouse gases as linked by id: biosphere3 name ← the dataset's own name."""
    from footprint.exchange.background.elementary import Biosphere

    bio = Biosphere.load()
    names = {code: name for (name, _), code in bio.flows.items()}
    for ds in datasets:
        for e in ds["exchanges"]:
            if e["type"] == "biosphere" and e["input"][1] in bio.factors:
                report.ghg_mapped.setdefault(names[e["input"][1]], Counter())[e["name"]] += 1
