"""``footprint export``: PACT v3.0.3 or Catena-X PCF 9.0.0 records of a park or of the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from footprint.cli.main import _date, _fail, _registry, app, err, out


@app.command("export")
def export(
    park_dir: Annotated[Optional[Path], typer.Argument(
        help="Park folder to compute and export (drafts, not certified). Omit with --registry.",
        show_default=False)] = None,
    from_registry: Annotated[bool, typer.Option(
        "--registry", help="Export every issued certificate's record, with its PACT status today.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="pact (PACT v3.0.3) or catenax (Catena-X PCF 9.0.0).")
                   ] = "pact",
    out_file: Annotated[Path, typer.Option("--out", help="JSON file to write.")] = Path("footprints.json"),
    product: Annotated[Optional[list[str]], typer.Option(
        "--product", help="With PARK_DIR: product to export; repeat for several. Default: every product.")] = None,
    issuer: Annotated[Optional[Path], typer.Option(
        "--issuer", help="With PARK_DIR: issuer file (its domain qualifies the PACT ids). Default as certify.")
    ] = None,
    day: Annotated[Optional[str], typer.Option(
        "--date", help="With PARK_DIR: the records' creation date YYYY-MM-DD (default today).")] = None,
    bpnl: Annotated[Optional[list[str]], typer.Option(
        "--bpnl", help="Catena-X: COMPANY=BPNL… for each data owner, COMPANY being the enterprise name or "
                       "enterprise_id; repeat for several.")] = None,
    region: Annotated[Optional[str], typer.Option(
        "--region", help="Catena-X: UN M49 region or subregion when the country has none built in.")] = None,
) -> None:
    """Write PACT ProductFootprints ({"data": [...]}) or a list of Catena-X PCF records."""
    from datetime import date

    from footprint.exchange import export as exports

    if fmt not in ("pact", "catenax"):
        raise typer.BadParameter(f"{fmt!r} is not pact or catenax", param_hint="--format")
    if (park_dir is None) == (not from_registry):
        raise typer.BadParameter("give either PARK_DIR or --registry", param_hint="PARK_DIR")
    pairs = {}
    for item in bpnl or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(f"{item!r} is not COMPANY=BPNL…", param_hint="--bpnl")
        pairs[key.strip()] = value.strip()
    kind: Literal["pact", "catenax"] = "pact" if fmt == "pact" else "catenax"
    try:
        if from_registry:
            with _registry() as reg:
                footprints, missing = exports.registry_footprints(reg)
            if missing:
                err.print(f"{len(missing)} certificate(s) issued before the registry kept their records are not "
                          f"exported: {', '.join(missing)}", highlight=False)
        else:
            from footprint.certificates import certification

            with err.status("Starting") as status:
                park, body, results = certification.prepare(park_dir, issuer, step=lambda s: status.update(s))
            footprints = exports.park_footprints(park, results, body, _date(day) or date.today(), product or None)
        size = exports.write(out_file, exports.document(footprints, kind, pairs, region))
    except Exception as e:  # noqa: BLE001 - located problems exit 2, others 1; tracebacks with --debug
        _fail(e)
    what = "PACT v3.0.3 ProductFootprints" if kind == "pact" else "Catena-X PCF 9.0.0 records"
    out.print(f"wrote {out_file}: {len(footprints)} {what}, {size / 1024:.0f} KiB", highlight=False)

