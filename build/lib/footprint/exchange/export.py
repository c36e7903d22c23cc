"""``footprint export``: a park's footprints, or the registry's certificates, as PACT v3.0.3
ProductFootprints or Catena-X PCF 9.0.0 records in one JSON file.

From a park folder the footprints are computed now and are drafts: no certificate, no verification,
and the comment says so. From the registry they are the records embedded in the issued certificates,
with the PACT status of each certificate today (``Deprecated`` once superseded, withdrawn,
suspended or expired).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from footprint.certificates import pact
from footprint.exchange import catenax
from footprint.files import write_atomic
from footprint.park.models import ParkData, Results
from footprint.registry.certificate import draft
from footprint.registry.issuer import Issuer
from footprint.registry.records import Registry

Format = Literal["pact", "catenax"]


class ExportError(ValueError):
    """The export cannot be made as asked (nothing to export, a BPNL missing, ...)."""


def park_footprints(park: ParkData, results: Results, issuer: Issuer, day: dt.date,
                    products: list[str] | None = None) -> list[dict[str, Any]]:
    """Draft ProductFootprints of a computed park (not certified: the comment and status say so)."""
    wanted = products or [p.product_id for p in results.products]
    return [pact.product_footprint(results, results.product(pid), draft(results, pid, issuer, day),
                                   park.park.country, park.park.region) for pid in wanted]


def registry_footprints(registry: Registry, now: dt.datetime | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """(each issued certificate's ProductFootprint with today's PACT status, numbers issued before the
    registry kept the record)."""
    out, missing = [], []
    for record in registry.records():
        issued = registry.footprint_json(record.number)
        if issued is None:
            missing.append(record.number)
        else:
            out.append(pact.registry_footprint(issued, record.status_at(now)))
    return out, missing


def bpnl_for(footprint: dict[str, Any], bpnls: dict[str, str]) -> str:
    """The BPNL configured for the footprint's company, by company name or by a company id's last part."""
    keys = [footprint["companyName"], *(cid.rsplit(":", 1)[-1] for cid in footprint["companyIds"])]
    for key in keys:
        if key in bpnls:
            return bpnls[key]
    raise ExportError(f"no BPNL for {footprint['companyName']!r}: give --bpnl '{footprint['companyName']}=BPNL…' "
                      "(Catena-X requires the data owner's Business Partner Number)")


def document(footprints: list[dict[str, Any]], fmt: Format, bpnls: dict[str, str] | None = None,
             region: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
    """The file's content: PACT ``{"data": [...]}`` as the PACT API lists footprints, or a list of
    Catena-X records."""
    if not footprints:
        raise ExportError("nothing to export")
    if fmt == "pact":
        return {"data": footprints}
    return [catenax.pcf_record(fp, bpnl_for(fp, bpnls or {}), region) for fp in footprints]


def write(path: Path, content: dict[str, Any] | list[dict[str, Any]]) -> int:
    """Write the export atomically; returns its size in bytes."""
    data = (json.dumps(content, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    write_atomic(path, data)
    return len(data)
