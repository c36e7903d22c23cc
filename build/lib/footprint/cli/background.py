"""``footprint background``: import, list, search and remove the LCI databases users own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Background databases: import USLCI, ecoinvent, SimaPro CSV or openLCA data; list, search, "
                       "remove.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _refused(exc: Exception) -> None:
    err.print(f"Refused: {exc}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="The source: a file, a folder or a zip.", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="ecospold1 | ecospold2 | simapro-csv | olca-jsonld")],
    name: Annotated[str, typer.Option(help="Database name, used in parks as bg:NAME:<code>.")],
    publication: Annotated[Optional[str], typer.Option(
        help="How certificates name this data (default: derived from the source).")] = None,
) -> None:
    """Import a database and print its link report (also saved in the data directory)."""
    from footprint.exchange.background import ImportRefused, import_database, report_paths

    try:
        with err.status(f"Importing {path.name}") as status:
            report = import_database(path, fmt, name, publication, step=lambda s: status.update(s))
    except ImportRefused as e:
        _refused(e)
    out.print(report.to_text(), highlight=False, markup=False, end="", soft_wrap=True)
    text, data = report_paths(name)
    out.print(f"Saved the link report to {text} and {data}", highlight=False, markup=False, soft_wrap=True)


@app.command("list")
def list_() -> None:
    """Imported background databases with their source and its SHA-256."""
    from footprint.exchange.background import databases

    table = Table("name", "format", "activities", "source", "SHA-256", "imported by")
    for d in databases():
        table.add_row(d["name"], d["format"], str(d["activities"]), d["source"], d["source_sha256"][:16] + "…",
                      d["footprint"])
    out.print(table)


@app.command()
def search(
    name: Annotated[str, typer.Argument(help="Database name.", show_default=False)],
    text: Annotated[str, typer.Argument(help="Words the activity name must contain.", show_default=False)],
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
) -> None:
    """Activities whose name contains every word, with the ref a park uses, unit and location."""
    from footprint.exchange.background import ImportRefused
    from footprint.exchange.background import search as find

    try:
        rows = find(name, text, limit)
    except ImportRefused as e:
        _refused(e)
    table = Table("ref", "name", "unit", "location")
    for r in rows:
        where = r["location"] + (f" — {r['geography'][:50]}" if r["geography"] else "")
        table.add_row(r["ref"], r["name"], r["unit"], where)
    out.print(table)
    if len(rows) == limit:
        out.print(f"(first {limit}; narrow the words or raise --limit)")


@app.command()
def remove(name: Annotated[str, typer.Argument(help="Database name.", show_default=False)]) -> None:
    """Delete an imported database and its link report."""
    from footprint.exchange.background import ImportRefused
    from footprint.exchange.background import remove as drop

    try:
        drop(name)
    except ImportRefused as e:
        _refused(e)
    out.print(f"Removed {name}")
