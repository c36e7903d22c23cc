"""``footprint serve`` and ``footprint api-clients``: the server and the PACT API's clients.

Transport rules: with ``--tls-cert``/``--tls-key`` the server speaks only HTTPS on its port; without
them it listens only on a loopback address (for a reverse proxy on the same host that terminates
TLS). Several workers need a database that several processes can write: PostgreSQL.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from footprint.engine import home as data_home

out = Console()
err = Console(stderr=True)
clients_app = typer.Typer(help="Clients of the PACT API (OAuth2 client credentials).", no_args_is_help=True)
TLS_PASSPHRASE_ENV = "FOOTPRINT_TLS_KEY_PASSPHRASE"


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(clients_app, name="api-clients")


def _usage(message: str) -> typer.Exit:
    err.print(f"[bold red]Usage error[/]: {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on. Without TLS only a loopback address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8443,
    tls_cert: Annotated[Optional[Path], typer.Option(
        "--tls-cert", help="PEM certificate chain: serve HTTPS only (no plain HTTP at all).")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(
        "--tls-key", help=f"PEM private key of --tls-cert (passphrase from ${TLS_PASSPHRASE_ENV}).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (more than 1 needs PostgreSQL).", min=1)] = 1,
    forwarded_allow_ips: Annotated[Optional[str], typer.Option(
        help="Proxies whose X-Forwarded-Proto/-For are trusted (comma-separated; default 127.0.0.1).")] = None,
    signing_key: Annotated[Optional[Path], typer.Option(
        "--signing-key", help="The certification body's signing key for certificates issued and exports signed in "
                              "the web pages: PKCS#12, or a PEM key with --signing-cert; passphrase from "
                              "$FOOTPRINT_KEY_PASSPHRASE. Default: $FOOTPRINT_SIGNING_KEY, else the data "
                              "directory's demo key (documents then say DEMO).")] = None,
    signing_cert: Annotated[Optional[Path], typer.Option(
        "--signing-cert", help="PEM signing certificate then its chain, for a PEM --signing-key.")] = None,
) -> None:
    """Serve the PACT v3 host API and the public verification pages over the data directory's registry."""
    import uvicorn

    from footprint.certificates import keys
    from footprint.registry.records import Registry, default_url

    if (tls_cert is None) != (tls_key is None):
        raise _usage("--tls-cert and --tls-key go together")
    if tls_cert is None and not is_loopback(host):
        raise _usage(f"plain HTTP only on a loopback address, not {host}: give --tls-cert and --tls-key, or "
                     "listen on 127.0.0.1 behind a reverse proxy that terminates TLS")
    passphrase = os.environ.get(TLS_PASSPHRASE_ENV)
    if tls_cert is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(tls_cert, tls_key, passphrase)
        except (OSError, ssl.SSLError) as e:
            raise _usage(f"cannot use --tls-cert {tls_cert} / --tls-key {tls_key}: {e}") from None
    home = data_home.resolve()
    if signing_key is not None:  # the workers read it from the environment (keys.configured_key)
        os.environ[keys.KEY_ENV] = str(signing_key.resolve())
    if signing_cert is not None:
        os.environ[keys.CERT_ENV] = str(signing_cert.resolve())
    try:
        key = keys.configured_key(home)
    except keys.KeyProblem as e:
        raise _usage(f"unusable signing key: {e}") from None
    url = default_url(home)
    if workers > 1 and url.startswith("sqlite"):
        raise _usage("several workers need PostgreSQL: set FOOTPRINT_DATABASE_URL=postgresql://…")
    try:
        Registry.open(home).close()  # create or upgrade the schema once, before workers start
    except Exception as e:  # noqa: BLE001 - an unreachable database is a usage problem
        raise _usage(f"cannot open the registry {url}: {e}") from None
    os.environ["FOOTPRINT_HOME"] = str(home)  # the workers build their apps from the environment
    scheme = "https" if tls_cert else "http"
    err.print(f"footprint serve: {scheme}://{host}:{port} (registry {url.split('@')[-1]}, {workers} worker(s)); "
              f"signing key of {key.holder}{' — DEMO' if key.demo else ''}", highlight=False, soft_wrap=True)
    uvicorn.run("footprint.service.app:create_app", factory=True, host=host, port=port, workers=workers,
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None,
                ssl_keyfile_password=passphrase, proxy_headers=True,
                forwarded_allow_ips=forwarded_allow_ips or "127.0.0.1", server_header=False, log_level="info")


def _open():  # noqa: ANN202 - Registry
    from footprint.registry.records import Registry

    return Registry.open(data_home.resolve())


@clients_app.command("add")
def clients_add(
    client_id: Annotated[str, typer.Argument(help="OAuth2 client id, e.g. the buyer's name.", show_default=False)],
    secret: Annotated[Optional[str], typer.Option(
        help="Use this secret (at least 24 characters) instead of a generated one.")] = None,
) -> None:
    """Register a client; its secret is printed once here and stored only as an Argon2id hash."""
    from footprint.registry import api_clients
    from footprint.registry.records import RegistryError

    try:
        with _open() as reg:
            secret = api_clients.add(reg, client_id, secret)
    except RegistryError as e:
        raise _usage(str(e)) from None
    out.print(f"client_id:     {client_id}\nclient_secret: {secret}", highlight=False, soft_wrap=True)
    err.print("The secret is shown only now; footprint keeps only its hash.", style="dim")


@clients_app.command("list")
def clients_list() -> None:
    """Every client, with when it was added and revoked."""
    from footprint.registry import api_clients

    with _open() as reg:
        rows = api_clients.clients(reg)
    table = Table("client id", "added", "revoked")
    for c in rows:
        table.add_row(c.client_id, c.created_at, c.revoked_at or "—")
    out.print(table)


@clients_app.command("revoke")
def clients_revoke(client_id: Annotated[str, typer.Argument(help="Client id.", show_default=False)]) -> None:
    """End a client's access now: its credentials and tokens are refused from the next request on."""
    from footprint.registry import api_clients
    from footprint.registry.records import RegistryError

    try:
        with _open() as reg:
            api_clients.revoke(reg, client_id)
    except RegistryError as e:
        raise _usage(str(e)) from None
    out.print(f"API client {client_id} revoked", highlight=False)
