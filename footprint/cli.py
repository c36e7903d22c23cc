"""The ``footprint`` command line: validate and calculate parks.

Invalid data exits 2 with located messages and no traceback (``--debug`` shows tracebacks).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from footprint import home as data_home
from footprint.errors import ParkDataError

app = typer.Typer(help="Product carbon footprints for industrial parks (ISO 14067, PACT).", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
out = Console()
err = Console(stderr=True)
_state = {"debug": False}

ParkDir = Annotated[Path, typer.Argument(help="Park folder: park.yaml with CSV tables or park.xlsx.",
                                         show_default=False)]


@app.callback()
def main(
    home: Annotated[Optional[Path], typer.Option(
        help="Data directory for all state (Brightway project, registry). Default: $FOOTPRINT_HOME, "
             "else ~/.local/share/footprint.")] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False,
) -> None:
    """Product carbon footprints for industrial parks: validate data, compute, certify."""
    data_home.activate(home)
    _state["debug"] = debug


def _fail(exc: Exception) -> None:
    if _state["debug"]:
        raise exc
    if isinstance(exc, ParkDataError):
        err.print(f"[bold red]Invalid park data[/]: {len(exc.problems)} problem(s)")
        for p in exc.problems:
            err.print(f"  • {p}", markup=False, highlight=False)
        raise typer.Exit(2)
    err.print(f"[bold red]Error[/]: {exc}", highlight=False)
    raise typer.Exit(1)


def _load(park_dir: Path):
    from footprint.loading import load_park

    return load_park(park_dir)


@app.command()
def validate(park_dir: ParkDir) -> None:
    """Check every row of a park and its links to the background; exit 2 when invalid."""
    try:
        park = _load(park_dir)
        from footprint.background import ensure_project
        from footprint.inventory import build_foreground

        with err.status("Checking links to the background"):
            ensure_project()
            build_foreground(park)
    except ParkDataError as e:
        _fail(e)
    out.print(f"[green]Valid[/]: park {park.park.id} — {len(park.facilities)} facilities, {len(park.outputs)} "
              f"products, {len(park.inputs)} inputs, {len(park.emissions)} emissions, {len(park.factors)} factors")


@app.command()
def calc(
    park_dir: ParkDir,
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Write the results JSON here.")] = None,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", help="Write one CSV row per product here.")] = None,
) -> None:
    """Compute the cradle-to-gate footprint of every product of a park (IPCC 2021 GWP100)."""
    from footprint.calculation import compute_park

    started = time.perf_counter()
    try:
        park = _load(park_dir)
        with err.status("Starting") as status:
            results = compute_park(park, step=lambda s: status.update(s))
    except ParkDataError as e:
        _fail(e)
    except Exception as e:  # noqa: BLE001 - shown cleanly, traceback with --debug
        _fail(e)
    table = Table(title=f"{results.park_name} — {results.period.start} to {results.period.end}, "
                        f"kg CO2e per declared unit ({results.method})")
    for col in ("product", "unit", "total", "fossil", "biogenic", "LUC", "primary data"):
        table.add_column(col, justify="left" if col in ("product", "unit") else "right")
    for p in results.products:
        table.add_row(p.product_id, p.unit, f"{p.total:.4g}", f"{p.fossil:.4g}", f"{p.biogenic:.3g}",
                      f"{p.luc:.3g}", f"{p.primary_data_share:.0%}")
    out.print(table)
    if json_file:
        _write(json_file, results.model_dump_json(indent=2))
    if csv_file:
        _write(csv_file, results.to_dataframe().to_csv())
    err.print(f"{len(results.products)} products in {time.perf_counter() - started:.1f} s", style="dim")


@app.command()
def bundle(
    park_dir: ParkDir,
    out_file: Annotated[Path, typer.Option("--out", help="Bundle file to write (.zip).")],
    iterations: Annotated[int, typer.Option(help="Monte Carlo iterations recorded in the bundle.")] = 1000,
    seed: Annotated[int, typer.Option(help="Monte Carlo seed.")] = 0,
) -> None:
    """Compute a park and write a calculation bundle a reviewer can recompute from alone."""
    from footprint import bundle as bundles

    try:
        with err.status("Computing and bundling"):
            digest, results = bundles.create(park_dir, out_file, iterations, seed)
    except Exception as e:  # noqa: BLE001 - shown cleanly, traceback with --debug
        _fail(e)
    out.print(f"wrote {out_file}: {len(results.products)} products, bundle sha256 {digest}", soft_wrap=True)


@app.command()
def recompute(bundle_file: Annotated[Path, typer.Argument(help="A bundle written by `footprint bundle`.")]) -> None:
    """Re-run a bundle in a fresh data directory; exit 1 if any number differs beyond 1e-9."""
    from footprint import bundle as bundles

    try:
        with err.status("Recomputing in a fresh data directory"):
            _, _, diffs = bundles.recompute(bundle_file)
    except Exception as e:  # noqa: BLE001
        _fail(e)
    table = Table(title=f"{bundle_file.name}: recorded vs recomputed")
    for col in ("product", "quantity", "recorded", "recomputed", "relative difference"):
        table.add_column(col, justify="left" if col in ("product", "quantity") else "right")
    worst = 0.0
    for d in diffs:
        if d.quantity == "total" or d.relative > bundles.TOLERANCE:
            table.add_row(d.product_id, d.quantity, f"{d.recorded:.10g}", f"{d.recomputed:.10g}", f"{d.relative:.1e}")
        worst = max(worst, d.relative if d.relative == d.relative else float("inf"))
    out.print(table)
    if worst > bundles.TOLERANCE:
        err.print(f"[bold red]Differs[/]: largest relative difference {worst:.2e} > {bundles.TOLERANCE:g}")
        raise typer.Exit(1)
    out.print(f"[green]Reproduced[/]: {len(diffs)} numbers, largest relative difference {worst:.1e}")


Lang = Annotated[Optional[str], typer.Option(
    "--lang", help="zh, en or zh-en (bilingual). Default: zh-en for parks in CN, else en.")]
IssuerFile = Annotated[Optional[Path], typer.Option(
    "--issuer", help="Issuer configuration YAML (certification body). Default: $FOOTPRINT_ISSUER, else "
                     "issuer.yaml in the data directory. Example: inventories/demo-issuer.yaml.")]
IssueDate = Annotated[Optional[str], typer.Option(
    "--issue-date", help="Issue date YYYY-MM-DD (default today); the same date gives the same PDF bytes.")]


def _date(text: str | None):
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint="--issue-date") from None


@app.command()
def certify(
    park_dir: ParkDir,
    product: Annotated[Optional[list[str]], typer.Option(
        "--product", help="Product ID to certify; repeat for several. Default: every product.")] = None,
    lang: Lang = None,
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Folder for the PDFs (<product>_<certificate number>.pdf).")] = Path("certificates"),
    issue_date: IssueDate = None,
    issuer: IssuerFile = None,
) -> None:
    """Compute a park and render each product's certificate (PDF/A-3b, DRAFT until signed)."""
    from footprint import certification

    day = _date(issue_date)
    try:
        with err.status("Starting") as status:
            park, body, results = certification.prepare(park_dir, issuer, step=lambda s: status.update(s))
            written = certification.certify(park, body, results, out_dir, product or (), lang, day,
                                            step=lambda s: status.update(s))
    except Exception as e:  # noqa: BLE001 - shown cleanly, traceback with --debug
        _fail(e)
    for w in written:
        out.print(f"{w.path}  {w.product_id}  {w.size / 1024:.0f} KiB  data sha256 {w.sha256[:16]}…",
                  soft_wrap=True, highlight=False)
    err.print(f"{len(written)} certificate(s), unsigned DRAFT", style="dim")


@app.command()
def summary(
    park_dir: ParkDir,
    out_file: Annotated[Optional[Path], typer.Option(
        "--out", help="PDF to write. Default: certificates/<park>-summary.pdf.")] = None,
    lang: Lang = None,
    issue_date: IssueDate = None,
    issuer: IssuerFile = None,
) -> None:
    """Compute a park and render one table of all its products (templates/summary.html.j2)."""
    from footprint import certification

    day = _date(issue_date)
    try:
        with err.status("Starting") as status:
            park, body, results = certification.prepare(park_dir, issuer, step=lambda s: status.update(s))
            target = out_file or Path("certificates") / f"{results.park}-summary.pdf"
            w = certification.summary(park, body, results, target, lang, day)
    except Exception as e:  # noqa: BLE001
        _fail(e)
    out.print(f"{w.path}  {len(results.products)} products  {w.size / 1024:.0f} KiB", soft_wrap=True,
              highlight=False)


@app.command()
def inspect(
    pdf_file: Annotated[Path, typer.Argument(help="A certificate or summary PDF.", show_default=False)],
    name: Annotated[Optional[str], typer.Option(help="Embedded file to print (default: the first).")] = None,
) -> None:
    """Print the data file embedded in a certificate PDF (PACT ProductFootprint JSON)."""
    from footprint.documents import read_attachment

    try:
        _, data = read_attachment(pdf_file, name)
    except Exception as e:  # noqa: BLE001
        _fail(e)
    sys.stdout.write(data.decode("utf-8"))
    if not data.endswith(b"\n"):
        sys.stdout.write("\n")


def _write(path: Path, text: str) -> None:
    """Write via a temporary file so a failure never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    err.print(f"wrote {path}", style="dim")


def run() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)




if __name__ == "__main__":
    run()
