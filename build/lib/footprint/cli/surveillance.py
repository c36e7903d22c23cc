"""``footprint surveillance record`` and ``footprint registry due``: the scheme's post-certification
surveillance (registry/schemes.py), recorded in the registry and its audit log."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from footprint.cli.main import _registry, app, err, out, registry_app


class Result(StrEnum):
    passed = "pass"
    failed = "fail"


surveillance_app = typer.Typer(help="Post-certification surveillance under the issuer's scheme.",
                               no_args_is_help=True)
app.add_typer(surveillance_app, name="surveillance")


@surveillance_app.command("record")
def surveillance_record(
    number: Annotated[str, typer.Argument(help="Certificate number.", show_default=False)],
    result: Annotated[Result, typer.Option("--result", help="pass keeps the certificate; fail suspends it.")],
    by: Annotated[str, typer.Option("--by", help="Who carried out the surveillance.")],
    note: Annotated[str, typer.Option("--note", help="What was found (recorded in the audit log).")],
) -> None:
    """Record a surveillance: pass sets the next due date (if any), fail suspends the certificate."""
    from footprint.registry.records import RegistryError

    try:
        with _registry() as reg:
            record = reg.record_surveillance(number, result is Result.passed, by, note)
    except RegistryError as e:
        err.print(f"[bold red]Error[/]: {e}", highlight=False)
        raise typer.Exit(2) from None
    if result is Result.passed:
        following = f"next surveillance due {record.surveillance_due[:10]}" if record.surveillance_due else \
            "no further surveillance before it expires"
        out.print(f"{record.number}: surveillance passed, stays active; {following}", highlight=False)
    else:
        out.print(f"{record.number}: surveillance FAILED, certificate suspended: {record.status_reason}",
                  highlight=False)


@registry_app.command("due")
def registry_due(
    within: Annotated[int, typer.Option(help="Also list surveillances due within this many days.")] = 30,
) -> None:
    """List active certificates whose surveillance is overdue or due soon; exit 1 if any is overdue."""
    from rich.table import Table


    with _registry() as reg:
        records = reg.due(within)
    if not records:
        out.print(f"no surveillance overdue or due within {within} days")
        return
    table = Table(title=f"Surveillance overdue or due within {within} days")
    for col in ("certificate", "product", "holder", "scheme", "due", "state"):
        table.add_column(col, no_wrap=col in ("certificate", "due", "state"))
    overdue = 0
    for r in records:
        late = r.surveillance_overdue()
        overdue += late
        table.add_row(r.number, r.product_id, r.holder, r.scheme or "", r.surveillance_due[:10],  # type: ignore[index]
                      "OVERDUE" if late else "due")
    out.print(table)
    if overdue:
        raise typer.Exit(1)

