"""``footprint users``: the people who log in to the web app of ``footprint serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from footprint.cli.main import _registry, _shown, app, err, out

users_app = typer.Typer(help="Web app users: manufacturers, reviewers, issuers, admins.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _refuse(message: str) -> typer.Exit:
    err.print(f"[bold red]Error[/]: {_shown(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _password(password_file: Path | None) -> str:
    """From the file's first line (so the password is never in shell history), else prompted twice."""
    if password_file is None:
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with password_file.open("rb") as fh:
            data = fh.read(4096)
    except OSError as e:
        raise _refuse(f"cannot read {password_file}: {e.strerror}") from None
    try:
        return data.decode("utf-8").splitlines()[0] if data.strip() else ""
    except UnicodeDecodeError:
        raise _refuse(f"{password_file}: not UTF-8 text") from None


@users_app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The user's e-mail address (their login).", show_default=False)],
    role: Annotated[str, typer.Option(help="manufacturer, reviewer, issuer or admin.", show_default=False)],
    enterprise: Annotated[Optional[list[str]], typer.Option(
        help="Enterprise id (facilities.csv enterprise_id) a manufacturer acts for; repeat for several.")] = None,
    password_file: Annotated[Optional[Path], typer.Option(
        help="Read the password from this file's first line instead of prompting.")] = None,
) -> None:
    """Add a user (an audited registry change); the password is stored only as an Argon2id hash."""
    from footprint.registry import users
    from footprint.registry.records import RegistryError

    password = _password(password_file)
    try:
        with _registry() as reg:
            user = users.add(reg, email, role, password, enterprise or [])
    except RegistryError as e:
        raise _refuse(str(e)) from None
    extra = f" for {', '.join(user.enterprises)}" if user.enterprises else ""
    out.print(f"added {user.role} {_shown(user.email)}{_shown(extra)}", highlight=False)


@users_app.command("list")
def listing() -> None:
    """Every user, with role, enterprises and whether they may log in."""
    from footprint.registry import users

    with _registry() as reg:
        rows = users.listing(reg)
    table = Table("e-mail", "role", "enterprises", "active")
    for u in rows:
        table.add_row(_shown(u.email), u.role, _shown(", ".join(u.enterprises)) or "—", "yes" if u.active else "no")
    out.print(table)


@users_app.command("disable")
def disable(email: Annotated[str, typer.Argument(help="The user's e-mail.", show_default=False)]) -> None:
    """Stop a user from logging in; their sessions end now (an audited registry change)."""
    from footprint.registry import users
    from footprint.registry.records import RegistryError

    try:
        with _registry() as reg:
            user = users.disable(reg, email)
    except RegistryError as e:
        raise _refuse(str(e)) from None
    out.print(f"disabled {_shown(user.email)}", highlight=False)
