"""Exporters' commands: ``footprint shipment`` (signed shipment declarations) and ``footprint cbam``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from footprint.cli.main import (
    IssueDate,
    IssuerFile,
    Lang,
    _date,
    _fail,
    _registry,
    _signing_key,
    _write,
    app,
    err,
    out,
)


@app.command()
def shipment(
    packing_list: Annotated[Path, typer.Argument(
        help="Packing list, CSV or xlsx (first sheet): line, certificate or product (<park id>/<product id>), "
             "quantity, unit, cn_code, consignee, invoice.", show_default=False)],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the declaration (shipment_<number>.pdf).")
                       ] = Path("certificates"),
    certificates: Annotated[Optional[list[Path]], typer.Option(
        "--certificates", help="Folder holding the certificates' PDFs; repeatable. Default: the --out folder.")
                            ] = None,
    issuer: IssuerFile = None,
    key: Annotated[Optional[Path], typer.Option(
        "--key", help="Signing key (PKCS#12, or PEM with --cert). Default: the data directory's demo key.")] = None,
    cert: Annotated[Optional[Path], typer.Option("--cert", help="PEM signing certificate and chain.")] = None,
    tsa: Annotated[Optional[str], typer.Option("--tsa", help="RFC 3161 timestamp authority URL.")] = None,
    lang: Lang = None,
    issue_date: IssueDate = None,
) -> None:
    """Declare a shipment's footprint: one signed, registered PDF/A-3 from a packing list.

    Every line needs an active certificate whose unit and HS code fit it; otherwise nothing is
    written and every refused line is named (exit 2).
    """
    from footprint.exchange import shipment as shipments
    from footprint.registry.issuer import load_issuer

    if not packing_list.is_file():
        err.print(f"[bold red]Usage error[/]: no file {packing_list}")
        raise typer.Exit(2)
    day = _date(issue_date)
    signing_key = _signing_key(key, cert)
    try:
        body = load_issuer(issuer)
        with _registry() as registry:
            issued = shipments.declare(packing_list, body, signing_key, out_dir, certificates or [out_dir],
                                       registry, lang or "zh-en", day, tsa)
    except shipments.PackingListError as e:
        err.print(f"[bold red]Packing list refused[/]: {len(e.problems)} problem(s)")
        for p in e.problems:
            err.print(f"  • {p}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except Exception as e:  # noqa: BLE001 - shown cleanly, traceback with --debug
        _fail(e)
    out.print(f"{issued.path}  {issued.record.number}  {issued.record.total:.6g} kg CO2e", soft_wrap=True,
              highlight=False)
    demo = " with the DEMO key — NOT A VALID CERTIFICATION" if signing_key.demo else ""
    err.print(f"shipment declaration signed by {signing_key.holder}{demo}, recorded in the registry", style="dim",
              highlight=False)


@app.command()
def cbam(
    park_dir: Annotated[Path, typer.Argument(help="Park folder, with cbam.yaml beside park.yaml.",
                                             show_default=False)],
    out_file: Annotated[Path, typer.Option(
        "--out", help="Workbook in the layout of the Commission's communication template; with several "
                      "installations one per installation, named <stem>_<installation>.xlsx.")],
    facility: Annotated[Optional[list[str]], typer.Option(
        "--facility", help="Only this facility's production processes; repeatable.")] = None,
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Also write the CBAM view as JSON.")] = None,
) -> None:
    """The EU CBAM communication for installations: specific embedded emissions per CN code."""
    from footprint.exchange import cbam as cbam_view
    from footprint.park.loading import load_park

    try:
        comm = cbam_view.communication(load_park(park_dir), facility or None)
        if not comm["installations"]:
            err.print("[bold red]No CBAM goods[/]: no output of the selected facilities has a CN code of "
                      "Annex I of Regulation (EU) 2023/956")
            raise typer.Exit(2)
        paths = cbam_view.write(comm, out_file)
        if json_file:
            _write(json_file, json.dumps(comm, ensure_ascii=False, indent=2))
    except typer.Exit:
        raise
    except Exception as e:  # noqa: BLE001 - ParkDataError exits 2 with located problems
        _fail(e)
    for g in comm["goods"]:
        out.print(f"{g['installation']}  {g['cn_code']}  {g['product_id']}  SEE direct {g['see_direct']:.4g}  "
                  f"indirect {g['see_indirect']:.4g}  total {g['see_total']:.4g} t CO2e/t  "
                  f"(default values {g['default_share']:.0%})", soft_wrap=True, highlight=False)
    for o in comm["outside_cbam"]:
        out.print(f"outside CBAM: {o['product_id']} — {o['reason']}", soft_wrap=True, highlight=False)
    for p in paths:
        err.print(f"wrote {p}", style="dim")
