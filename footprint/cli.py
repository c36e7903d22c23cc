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
