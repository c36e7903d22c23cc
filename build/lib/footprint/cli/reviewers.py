"""``footprint reviewers``: the registered identities a review decision must name."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from footprint.cli.main import _registry, app, err, out

reviewers_app = typer.Typer(help="Registered reviewers: `review decide --reviewer ID` must name one.",
                            no_args_is_help=True)
app.add_typer(reviewers_app, name="reviewers")


@reviewers_app.command("add")
def add(
    reviewer_id: Annotated[str, typer.Argument(help="Short id, e.g. li.wei (lower-case, digits, . _ -).",
                                               show_default=False)],
    name: Annotated[str, typer.Option(help="The person's full name.")],
    organisation: Annotated[str, typer.Option(help="The verification body they review for.")],
    accreditation: Annotated[Optional[str], typer.Option(
        help="The body's accreditation (ISO 14065), e.g. CNAS V0123.")] = None,
    email: Annotated[Optional[str], typer.Option(help="Contact address.")] = None,
) -> None:
    """Register a reviewer (an audited registry change)."""
    from footprint.registry import reviewers
    from footprint.registry.records import RegistryError

    try:
        with _registry() as reg:
            who = reviewers.add(reg, reviewer_id, name, organisation, accreditation, email)
    except RegistryError as e:
        err.print(f"[bold red]Error[/]: {e}", highlight=False)
        raise typer.Exit(2) from None
    out.print(f"registered reviewer {who.id}: {who.describe()}", highlight=False)


@reviewers_app.command("remove")
def remove(
    reviewer_id: Annotated[str, typer.Argument(help="The reviewer's id.", show_default=False)],
    reason: Annotated[str, typer.Option(help="Why they may no longer decide.")],
) -> None:
    """Stop a reviewer from taking decisions; their past decisions stay as recorded."""
    from footprint.registry import reviewers
    from footprint.registry.records import RegistryError

    try:
        with _registry() as reg:
            who = reviewers.remove(reg, reviewer_id, reason)
    except RegistryError as e:
        err.print(f"[bold red]Error[/]: {e}", highlight=False)
        raise typer.Exit(2) from None
    out.print(f"removed reviewer {who.id} ({who.describe()})", highlight=False)


@reviewers_app.command("list")
def listing() -> None:
    """The registered reviewers."""
    from footprint.registry import reviewers

    with _registry() as reg:
        found = reviewers.listing(reg)
    table = Table(title="Registered reviewers")
    for col in ("id", "name", "organisation", "accreditation", "active"):
        table.add_column(col)
    for r in found:
        table.add_row(r.id, r.name, r.organisation, r.accreditation or "", "yes" if r.active else "removed")
    out.print(table)
