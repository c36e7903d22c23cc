"""``footprint batch calc|review|certify PARK_DIR... --out DIR``: many parks on a Dask cluster.

A thin layer over ``footprint.batch``: checks the inputs, starts or joins the cluster, shows the
batch's progress and a summary table. Exit 0 when every park succeeded, 2 when a park's data was
invalid (its located problems are listed), 1 for any other failure.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from footprint.engine import home as data_home

app = typer.Typer(no_args_is_help=True, help=(
    "Many parks at once on a Dask cluster: a LocalCluster of --workers processes, or the scheduler "
    "at --scheduler. Each worker keeps its own data directory; one failing park does not stop the others."))
out = Console()
err = Console(stderr=True)

ParkDirs = Annotated[list[Path], typer.Argument(help="Park folders (park.yaml with CSV tables or park.xlsx).",
                                                show_default=False)]
OutDir = Annotated[Path, typer.Option("--out", help="Folder for every park's files.")]
Scheduler = Annotated[Optional[str], typer.Option(
    help="Address of a running Dask scheduler, e.g. tcp://HOST:8786. Paths must be the same on every worker "
         "and each worker needs its own FOOTPRINT_HOME (README, 'Running on a cluster').")]
Workers = Annotated[int, typer.Option(help="Worker processes of the local cluster (without --scheduler).")]


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD") from None


def _jobs(command: str, park_dirs: list[Path], out_dir: Path, scheduler: str | None, **extra):
    """Check the folders (distinct park ids), prepare the template data directory, build the jobs."""
    from footprint.batch.parks import Job, park_ids

    folders = [p.resolve() for p in park_dirs]
    missing = [str(p) for p in folders if not p.is_dir()]
    if missing:
        err.print(f"[bold red]Usage error[/]: not a folder: {', '.join(missing)}", highlight=False)
        raise typer.Exit(2)
    seen: dict[str, Path] = {}
    for folder, pid in park_ids(folders).items():
        if pid is not None and pid in seen:
            err.print(f"[bold red]Usage error[/]: {seen[pid]} and {folder} are both park {pid!r}; their files "
                      "would overwrite each other", highlight=False)
            raise typer.Exit(2)
        if pid is not None:
            seen[pid] = folder
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    local = {}
    if scheduler is None:
        from footprint.engine.background import ensure_project

        template = data_home.resolve()
        with err.status("Preparing the Brightway project the workers start from"):
            ensure_project()
        local = {"template": str(template), "workers_root": str(template / "workers")}
    return [Job(command, str(f), str(out_dir), **local, **extra) for f in folders]  # type: ignore[arg-type]


def _run(jobs, scheduler: str | None, workers: int, title: str):  # noqa: ANN001, ANN202
    from footprint.batch.cluster import connect
    from footprint.batch.parks import run_batch

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[last]}"))
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(title, total=len(jobs), last="starting the cluster")
        with connect(scheduler, workers) as client:
            n = len(client.scheduler_info().get("workers", {}))
            progress.update(task, last=f"{n} worker(s)")

            def done(o) -> None:  # noqa: ANN001 - parks.Outcome
                mark = "ok" if o.ok else "FAILED"
                progress.update(task, advance=1, last=f"{o.park or Path(o.park_dir).name}: {mark}")

            outcomes = run_batch(client, jobs, done)
    return outcomes


def _report(outcomes, title: str) -> None:  # noqa: ANN001
    table = Table(title=title)
    for col in ("park", "status", "products", "seconds", "worker", "files"):
        table.add_column(col, justify="right" if col in ("products", "seconds") else "left")
    for o in outcomes:
        status = "[green]ok[/]" if o.ok else "[bold red]invalid data[/]" if o.problems else "[bold red]failed[/]"
        files = str(len(o.files)) + (f" ({len(o.kept)} kept: issued earlier in this batch)" if o.kept else "")
        table.add_row(o.park or Path(o.park_dir).name, status, str(o.products), f"{o.seconds:.1f}", o.worker, files)
    out.print(table)
    for o in outcomes:
        for product, number, path in o.certificates:
            out.print(f"{path}  {number}  {product}", highlight=False, soft_wrap=True)
        for product, number, path in o.kept:
            out.print(f"{path}  {number}  {product}  (kept: issued earlier in this batch)", highlight=False,
                      soft_wrap=True)
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        if o.problems:
            err.print(f"[bold red]Invalid park data[/] in {o.park_dir}: {len(o.problems)} problem(s)",
                      highlight=False)
            for p in o.problems:
                err.print(f"  • {p}", markup=False, highlight=False)
        else:
            err.print(f"[bold red]Failed[/] {o.park_dir}: {o.error}", highlight=False)
    ok = len(outcomes) - len(failed)
    err.print(f"{ok} of {len(outcomes)} park(s) done", style="dim")
    if any(not o.ok and not o.problems for o in failed):
        raise typer.Exit(1)
    if failed:
        raise typer.Exit(2)


@app.command()
def calc(park_dirs: ParkDirs, out_dir: OutDir, scheduler: Scheduler = None, workers: Workers = 2) -> None:
    """Compute every park; writes <park id>-results.json per park into --out (DESIGN §4)."""
    jobs = _jobs("calc", park_dirs, out_dir, scheduler)
    _report(_run(jobs, scheduler, workers, "calc"), f"{len(jobs)} park(s) computed into {out_dir}")


@app.command()
def review(
    park_dirs: ParkDirs, out_dir: OutDir, scheduler: Scheduler = None, workers: Workers = 2,
    iterations: Annotated[int, typer.Option(help="Monte Carlo iterations per park.")] = 1000,
    seed: Annotated[int, typer.Option(help="Monte Carlo seed: the same seed gives the same numbers.")] = 0,
    report_date: Annotated[Optional[str], typer.Option("--report-date", help="Report date YYYY-MM-DD.")] = None,
) -> None:
    """Review every park: <park id>-review.html/.pdf and <park id>-bundle.zip per park."""
    jobs = _jobs("review", park_dirs, out_dir, scheduler, iterations=iterations, seed=seed,
                 day=_date(report_date) or date.today())
    _report(_run(jobs, scheduler, workers, "review"), f"{len(jobs)} park(s) reviewed into {out_dir}")


@app.command()
def certify(
    park_dirs: ParkDirs, out_dir: OutDir, scheduler: Scheduler = None, workers: Workers = 2,
    issuer: Annotated[Optional[Path], typer.Option(help="Issuer configuration YAML (default as for certify).")] = None,
    key: Annotated[Optional[Path], typer.Option(
        help="Signing key (PKCS#12, or PEM with --cert), readable by every worker; passphrase from each "
             "worker's $FOOTPRINT_KEY_PASSPHRASE. Default: the demo key of this data directory (which workers "
             "of a real cluster must see at the same path).")] = None,
    cert: Annotated[Optional[Path], typer.Option(help="PEM chain for a PEM --key.")] = None,
    lang: Annotated[Optional[str], typer.Option(help="zh, en or zh-en.")] = None,
    issue_date: Annotated[Optional[str], typer.Option("--issue-date", help="Issue date YYYY-MM-DD.")] = None,
    tsa: Annotated[Optional[str], typer.Option(help="RFC 3161 timestamp authority URL (PAdES B-T).")] = None,
    self_declared: Annotated[bool, typer.Option(
        "--self-declared", help="Issue without an approved review (certificates say so).")] = False,
    resume: Annotated[Optional[int], typer.Option(
        help="Resume an interrupted batch: keep the certificates issued after this audit entry (the number "
             "an earlier batch printed at its start) instead of superseding them.")] = None,
    backdate: Annotated[bool, typer.Option(
        "--backdate", help="Allow an --issue-date before today (recorded as back-dated).")] = False,
) -> None:
    """Certify every product of every park through the one registry ($FOOTPRINT_DATABASE_URL)."""
    from footprint.batch.parks import audit_head
    from footprint.certificates import keys
    from footprint.registry.issuer import default_path, load_issuer
    from footprint.registry.records import Registry, default_url

    here = data_home.resolve()
    url = default_url(here)
    if scheduler and url.startswith("sqlite"):
        err.print("[bold red]Usage error[/]: workers of a cluster need one shared registry: set "
                  "FOOTPRINT_DATABASE_URL=postgresql://... (SQLite serves one machine only)")
        raise typer.Exit(2)
    try:
        issuer_file = (issuer or default_path()).resolve()
        load_issuer(issuer_file)
        if key:
            keys.load(key, cert_path=cert)
        else:
            keys.default_key(here)
    except Exception as e:  # noqa: BLE001 - unusable issuer or key: nothing starts
        err.print(f"[bold red]Usage error[/]: {e}", highlight=False)
        raise typer.Exit(2) from None
    with Registry.open(here) as registry:
        since = audit_head(registry) if resume is None else resume
    err.print(f"batch after audit entry {since} (to resume it: --resume {since})", style="dim", highlight=False)
    jobs = _jobs("certify", park_dirs, out_dir, scheduler, issuer=str(issuer_file), lang=lang,
                 day=_date(issue_date) or date.today(), key=str(key.resolve()) if key else None,
                 cert=str(cert.resolve()) if cert else None, key_home=str(here), tsa=tsa, registry_url=url,
                 self_declared=self_declared, backdate=backdate, since_seq=since)
    _report(_run(jobs, scheduler, workers, "certify"), f"{len(jobs)} park(s) certified into {out_dir}")
