"""Write small parks to folders for tests; rows are given as dicts, defaults fill the rest."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import yaml

_ids = itertools.count()


def write_park(folder: Path, *, facilities: list[dict], outputs: list[dict], inputs: list[dict] = (),
               emissions: list[dict] = (), factors: list[dict] = (), park: dict | None = None,
               exclusions: list[dict] = (), electricity: list[dict] = ()) -> Path:
    """A park folder with the given rows; returns the folder. Each call gets a fresh park id."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": "footprint-park/1", "id": f"test-park-{next(_ids)}", "name": "Test park", "country": "CN",
            "period": {"start": "2025-01-01", "end": "2025-12-31"}, "background": "open-factors"}
    meta.update(park or {})
    (folder / "park.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    facilities = [{"enterprise": "Ent " + f["facility_id"], "name": "Plant " + f["facility_id"], **f}
                  for f in facilities]
    outputs = [{"name": "Product " + o["product_id"], **o} for o in outputs]
    inputs = [{"data_type": "secondary", "source": "test", **i} for i in inputs]
    emissions = [{"kind": "process", "source": "test", "unit": "kg", **e} for e in emissions]
    factors = [{"name": "Factor " + f["code"], "biogenic": 0, "luc": 0, "source": "test", **f} for f in factors]
    for name, rows in (("facilities", facilities), ("outputs", outputs), ("inputs", inputs),
                       ("emissions", emissions), ("factors", factors), ("exclusions", exclusions),
                       ("electricity", electricity)):
        if not rows and name not in ("facilities", "outputs", "inputs"):
            continue
        columns = list(dict.fromkeys(k for r in rows for k in r)) or _DEFAULT_COLUMNS[name]
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, columns)
            writer.writeheader()
            writer.writerows(rows)
    return folder


_DEFAULT_COLUMNS = {"inputs": ["facility_id", "ref", "amount", "unit", "data_type", "source"]}
