"""The ``footprint`` command line: validate and calculate parks.

Invalid data exits 2 with located messages and no traceback (``--debug`` shows tracebacks).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from footprint.cli.background import app as background_app
from footprint.engine import home as data_home
from footprint.park.errors import ParkDataError
from footprint.text import escape_unsafe, spreadsheet_safe

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


def _shown(text: object) -> str:
    """Outside text for the terminal: control and bidi characters escaped, no rich markup."""
    return escape(escape_unsafe(str(text)))


def _fail(exc: Exception, refused: tuple[type[Exception], ...] = ()) -> None:
    """Located problems and refused input exit 2, anything else 1; never a traceback without --debug."""
    from footprint.archives import ArchiveError

    if _state["debug"]:
        raise exc
    if isinstance(exc, ParkDataError):
        err.print(f"[bold red]Invalid park data[/]: {exc.count:,} problem(s)")
        for p in exc.problems:
            err.print(f"  • {_shown(p)}", highlight=False)
        if exc.count > len(exc.problems):
            err.print(f"  … and {exc.count - len(exc.problems):,} more (only the first {len(exc.problems):,} are "
                      "listed)", highlight=False)
        raise typer.Exit(2)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, (ArchiveError, *refused)):
        err.print(f"[bold red]Refused[/]: {_shown(message)}", highlight=False)
        raise typer.Exit(2)
    err.print(f"[bold red]Error[/]: {_shown(message)}", highlight=False)
    raise typer.Exit(1)


def _load(park_dir: Path):
    from footprint.park.loading import load_park

    return load_park(park_dir)


@app.command()
def validate(park_dir: ParkDir) -> None:
    """Check every row of a park and its links to the background; exit 2 when invalid."""
    try:
        park = _load(park_dir)
        from footprint.engine.background import ensure_project
        from footprint.engine.inventory import build_foreground

        with err.status("Checking links to the background"):
            ensure_project()
            build_foreground(park)
    except Exception as e:  # noqa: BLE001 - located problems exit 2, anything else 1; tracebacks with --debug
        _fail(e)
    out.print(f"[green]Valid[/]: park {park.park.id} — {len(park.facilities)} facilities, {len(park.outputs)} "
              f"products, {len(park.inputs)} inputs, {len(park.emissions)} emissions, {len(park.factors)} factors")


@app.command()
def template(
    out_file: Annotated[Path, typer.Option("--out", help="Workbook to write, e.g. park.xlsx.")],
) -> None:
    """Write the park workbook template: every sheet and column, unit lists, a guide and example rows."""
    from footprint.files import write_atomic
    from footprint.park.template import workbook_bytes

    write_atomic(out_file, workbook_bytes())
    out.print(f"wrote {_shown(out_file)}: fill in the sheets (the park sheet holds park.yaml's keys), then "
              f"`footprint validate` a folder holding it, or upload it in the web app", highlight=False)


@app.command()
def calc(
    park_dir: ParkDir,
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Write the results JSON here.")] = None,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", help="Write one CSV row per product here.")] = None,
    brightway: Annotated[bool, typer.Option(
        "--brightway", help="Also write the park's Brightway database park:<id> (when its content changed), "
                            "e.g. to open it in Activity Browser.")] = False,
) -> None:
    """Compute the cradle-to-gate footprint of every product of a park (IPCC 2021 GWP100)."""
    from footprint.engine.calculation import compute_park

    started = time.perf_counter()
    try:
        park = _load(park_dir)
        with err.status("Starting") as status:
            results = compute_park(park, step=lambda s: status.update(s), write_database=brightway)
    except ParkDataError as e:
        _fail(e)
    except Exception as e:  # noqa: BLE001 - shown cleanly, traceback with --debug
        _fail(e)
    table = Table(title=f"{results.park_name} — {results.period.start} to {results.period.end}, "
                        f"kg CO2e per declared unit ({results.method})")
    for col in ("product", "unit", "total", "fossil", "biogenic", "LUC", "primary data"):
        table.add_column(col, justify="left" if col in ("product", "unit") else "right", no_wrap=col == "product")
    for p in results.products:
        table.add_row(p.product_id, p.unit, f"{p.total:.4g}", f"{p.fossil:.4g}", f"{p.biogenic:.3g}",
                      f"{p.luc:.3g}", f"{p.primary_data_share:.0%}")
    out.print(table)
    if json_file:
        _write(json_file, results.model_dump_json(indent=2))
    if csv_file:
        _write(csv_file, results.to_dataframe().map(spreadsheet_safe).to_csv())
    err.print(f"{len(results.products)} products in {time.perf_counter() - started:.1f} s", style="dim")


@app.command()
def bundle(
    park_dir: ParkDir,
    out_file: Annotated[Path, typer.Option("--out", help="Bundle file to write (.zip).")],
    iterations: Annotated[int, typer.Option(help="Monte Carlo iterations recorded in the bundle.")] = 1000,
    seed: Annotated[int, typer.Option(help="Monte Carlo seed.")] = 0,
) -> None:
    """Compute a park and write a calculation bundle a reviewer can recompute from alone."""
    from footprint.review import bundle as bundles

    try:
        with err.status("Computing and bundling"):
            digest, results = bundles.create(park_dir, out_file, iterations, seed)
    except Exception as e:  # noqa: BLE001 - shown cleanly, traceback with --debug
        _fail(e)
    out.print(f"wrote {out_file}: {len(results.products)} products, bundle sha256 {digest}", soft_wrap=True)


@app.command()
def recompute(bundle_file: Annotated[Path, typer.Argument(help="A bundle written by `footprint bundle`.")]) -> None:
    """Re-run a bundle in a fresh data directory; exit 1 if any number differs beyond 1e-9."""
    from footprint.review import bundle as bundles

    try:
        with err.status("Recomputing in a fresh data directory"):
            _, _, diffs = bundles.recompute(bundle_file)
    except Exception as e:  # noqa: BLE001 - a refused bundle exits 2, a failed recomputation 1
        _fail(e, refused=(ValueError,))
    table = Table(title=f"{bundle_file.name}: recorded vs recomputed")
    for col in ("product", "quantity", "recorded", "recomputed", "relative difference"):
        table.add_column(col, justify="left" if col in ("product", "quantity") else "right")
    for d in diffs:
        if d.quantity == "total" or d.relative > bundles.TOLERANCE:
            table.add_row(d.product_id, d.quantity, f"{d.recorded:.10g}", f"{d.recomputed:.10g}", f"{d.relative:.1e}")
    worst = bundles.largest_difference(diffs)
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
    key: Annotated[Optional[Path], typer.Option(
        "--key", help="Signing key: PKCS#12 file, or PEM private key with --cert. Passphrase from "
                      "$FOOTPRINT_KEY_PASSPHRASE, else prompted. Default: the data directory's demo key "
                      "(documents then say DEMO — NOT A VALID CERTIFICATION).")] = None,
    cert: Annotated[Optional[Path], typer.Option(
        "--cert", help="PEM file with the signing certificate then its chain (with a PEM --key).")] = None,
    tsa: Annotated[Optional[str], typer.Option(
        "--tsa", help="RFC 3161 timestamp authority URL: PAdES B-LTA (validation data and a document "
                      "timestamp, verifiable after the signing certificate expires) instead of B-B. The TSA's "
                      "root must be trusted: in <home>/trust or given with --tsa-root.")] = None,
    tsa_root: Annotated[Optional[list[Path]], typer.Option(
        "--tsa-root", help="Root certificate (PEM/DER) of the TSA; repeatable.")] = None,
    draft: Annotated[bool, typer.Option(
        "--draft", help="Render unsigned DRAFT documents only: no signature, no registry record.")] = False,
    self_declared: Annotated[bool, typer.Option(
        "--self-declared", help="Issue without an approved review; the certificate states 'self-declared, "
                                "not third-party verified'. Default: only products whose current calculation "
                                "bundle a reviewer approved (footprint review decide).")] = False,
    backdate: Annotated[bool, typer.Option(
        "--backdate", help="Allow an --issue-date before today; the registry records the certificate as "
                           "back-dated.")] = False,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, help="Processes that render, sign and record certificates side by side (one per "
                                 "core); each certificate is still all or nothing.")] = 1,
) -> None:
    """Compute a park and issue each product's certificate: PDF/A-3b, signed (PAdES), registered."""
    from footprint.certificates import certification

    day = _date(issue_date)
    signing_key = None if draft else _signing_key(key, cert)
    try:
        with err.status("Starting") as status:
            results = None  # reviewed: a negative total is refused (NegativeTotal), so never warned about
            if signing_key is not None and not self_declared:
                from footprint.registry.records import Registry

                with Registry.open(data_home.resolve()) as registry:
                    issued = certification.issue_reviewed(
                        park_dir, issuer, out_dir, signing_key, registry, product or (), lang, day,
                        step=lambda s: status.update(s), tsa_url=tsa, backdate=backdate,
                        tsa_roots=_tsa_roots(tsa_root) if tsa else None, workers=workers)
            else:
                park, body, results = certification.prepare(park_dir, issuer, step=lambda s: status.update(s))
                if signing_key is not None:
                    issued = certification.issue(park, body, results, out_dir, signing_key, product or (), lang,
                                                 day, tsa_url=tsa, step=lambda s: status.update(s),
                                                 backdate=backdate, tsa_roots=_tsa_roots(tsa_root) if tsa else None,
                                                 workers=workers)
                else:
                    written = certification.certify(park, body, results, out_dir, product or (), lang, day,
                                                    step=lambda s: status.update(s))
    except Exception as e:  # noqa: BLE001 - shown cleanly, traceback with --debug
        _fail(e, refused=(certification.NegativeTotal,))
    for negative in certification.negative_totals(results, product or ()) if results is not None else ():
        err.print(f"[bold yellow]WARNING[/]: {negative} is NEGATIVE (a net removal); its certificate says "
                  "'Negative total — not verified'", highlight=False)
    if signing_key is None:
        for w in written:
            out.print(f"{w.path}  {w.product_id}  {w.size / 1024:.0f} KiB  data sha256 {w.sha256[:16]}…",
                      soft_wrap=True, highlight=False)
        err.print(f"{len(written)} certificate(s), unsigned DRAFT", style="dim")
        return
    for i in issued:
        out.print(f"{i.path}  {i.record.number}  {i.record.product_id}  {i.record.total:.4g} kg CO2e/{i.record.unit}",
                  soft_wrap=True, highlight=False)
    level = issued[0].record.signature_level if issued else ""
    demo = " with the DEMO key — NOT A VALID CERTIFICATION" if signing_key.demo else ""
    err.print(f"{len(issued)} certificate(s) signed ({level}) by {signing_key.holder}{demo}, recorded in the registry",
              style="dim", highlight=False)


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
    from footprint.certificates import certification

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
    sys.stdout.write(escape_unsafe(data.decode("utf-8", errors="replace"), allowed="\n\t"))  # valid JSON stays valid
    if not data.endswith(b"\n"):
        sys.stdout.write("\n")


class _ReviewGroup(typer.core.TyperGroup):
    """`footprint review PARK_DIR` runs the report; `footprint review decide ...` records a decision."""

    def parse_args(self, ctx, args):  # noqa: ANN001, ANN201 - click's signature
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["report", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(cls=_ReviewGroup, no_args_is_help=True, help=(
    "Review for certification bodies: `footprint review PARK_DIR` writes the review report and bundle; "
    "`footprint review decide PARK_DIR ...` records an approval or rejection."))
app.add_typer(review_app, name="review")


@review_app.command("report")
def review_report(
    park_dir: ParkDir,
    product: Annotated[Optional[list[str]], typer.Option(
        "--product", help="Product ID to include; repeat for several. Default: every product.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report and the bundle.")] = Path(
        "certificates"),
    iterations: Annotated[int, typer.Option(help="Monte Carlo iterations.")] = 1000,
    seed: Annotated[int, typer.Option(help="Monte Carlo seed: the same seed gives the same numbers.")] = 0,
    report_date: IssueDate = None,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Run the Monte Carlo chunks on the Dask scheduler at this address (tcp://HOST:8786); "
             "the same seed gives the same numbers.")] = None,
    workers: Annotated[int, typer.Option(
        help="Run the Monte Carlo chunks on a local cluster of this many processes (0: in this process).")] = 0,
) -> None:
    """Write <park>-review.html/.pdf and <park>-bundle.zip: every number traced to its rows."""
    import contextlib
    from datetime import date

    from footprint.review.decisions import run_review

    try:
        with err.status("Starting") as status, contextlib.ExitStack() as stack:
            if scheduler or workers:
                from footprint.batch.cluster import connect, monte_carlo_on
                from footprint.engine.uncertainty import running

                status.update("Starting the Dask cluster")
                stack.enter_context(running(monte_carlo_on(stack.enter_context(connect(scheduler, workers)))))
            done = run_review(park_dir, out_dir, product or [], iterations, seed, _date(report_date) or date.today(),
                              step=lambda s: status.update(s))
    except Exception as e:  # noqa: BLE001 - shown cleanly, traceback with --debug
        _fail(e)
    table = Table(title=f"{done.results.park_name}: mean and 95 % interval of {iterations} Monte Carlo iterations")
    for col in ("product", "unit", "total", "mean", "2.5 %", "97.5 %"):
        table.add_column(col, justify="left" if col in ("product", "unit") else "right")
    for p in done.results.products:
        u = p.uncertainty
        table.add_row(p.product_id, p.unit, f"{p.total:.4g}", *(f"{x:.4g}" for x in (u.mean, u.p2_5, u.p97_5)))
    out.print(table)
    for path in (done.html, done.pdf, done.bundle):
        out.print(f"wrote {path}", highlight=False)
    out.print(f"bundle sha256 {done.bundle_hash}", soft_wrap=True)


@review_app.command("decide")
def review_decide(
    park_dir: ParkDir,
    reviewer: Annotated[str, typer.Option(
        help="Id of the registered reviewer taking the decision (footprint reviewers add).")],
    comment: Annotated[str, typer.Option(help="Reason for the decision.")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="Approve or reject the calculation.")],
    product: Annotated[Optional[list[str]], typer.Option(
        "--product", help="Product ID decided on; repeat for several. Default: every product.")] = None,
    bundle_file: Annotated[Optional[Path], typer.Option(
        "--bundle", help="The reviewed bundle. Default: certificates/<park id>-bundle.zip.")] = None,
    statement_file: Annotated[Optional[Path], typer.Option(
        "--statement", help="Verification statement (YAML with the fields of the options below); options given "
                            "as well replace its fields. An approval needs every field.")] = None,
    verifier: Annotated[Optional[str], typer.Option(help="Statement: the verification body.")] = None,
    accreditation: Annotated[Optional[str], typer.Option(
        help="Statement: the verification body's ISO 14065 accreditation, e.g. 'CNAS V0000'.")] = None,
    assurance: Annotated[Optional[str], typer.Option(help="Statement: level of assurance, limited or reasonable.")
                         ] = None,
    materiality: Annotated[Optional[float], typer.Option(
        help="Statement: materiality threshold, percent of the footprint.")] = None,
    criteria: Annotated[Optional[str], typer.Option(help="Statement: the criteria verified against.")] = None,
    scope: Annotated[Optional[str], typer.Option(help="Statement: what the verification covered.")] = None,
    intended_users: Annotated[Optional[str], typer.Option(help="Statement: the intended users.")] = None,
    opinion: Annotated[Optional[str], typer.Option(help="Statement: the verifier's opinion, as it is to be printed.")
                       ] = None,
) -> None:
    """Record an approval (with its verification statement, ISO 14064-3) or a rejection of the reviewed
    bundle in the registry's audit log."""
    from footprint.registry import statement as statements
    from footprint.registry.records import Registry
    from footprint.review.decisions import decide_bundle

    fields = {"verifier": verifier, "accreditation": accreditation, "assurance": assurance,
              "materiality_percent": materiality, "criteria": criteria, "scope": scope,
              "intended_users": intended_users, "opinion": opinion}
    try:
        recorded = None
        if statement_file is not None:
            recorded = statements.load(statement_file, fields)
        elif approve or any(v is not None for v in fields.values()):
            recorded = statements.from_fields(fields)
    except statements.StatementError as e:
        err.print(f"[bold red]Invalid verification statement[/]: {e}", highlight=False)
        raise typer.Exit(2) from None
    try:
        path = bundle_file or Path("certificates") / f"{_load(park_dir).park.id}-bundle.zip"
        with Registry.open(data_home.resolve()) as registry:
            digest, entries = decide_bundle(registry, park_dir, path, product or [], approve, reviewer, comment,
                                            recorded)
        for entry in entries:
            out.print(f"{'approved' if approve else 'rejected'} {entry.subject} (bundle {digest[:12]}) "
                      f"by {reviewer}: audit entry {entry.seq}", highlight=False)
    except Exception as e:  # noqa: BLE001 - located park problems exit 2 (_fail), others 1
        _fail(e)


# ---- signing, registry, verification (issue 4) ----------------------------------------------

keys_app = typer.Typer(help="Signing keys of the certification body.", no_args_is_help=True)
registry_app = typer.Typer(help="The certificate registry.", no_args_is_help=True)
audit_app = typer.Typer(help="The registry's hash-chained audit log.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(registry_app, name="registry")
app.add_typer(audit_app, name="audit")
app.add_typer(background_app, name="background")


def _signing_key(key: Path | None, cert: Path | None):
    """Load (and check) the signing key before anything is computed or rendered; exit 2 if unusable."""
    from footprint.certificates import keys

    try:
        if key is None:
            return keys.default_key(data_home.resolve())
        try:
            return keys.load(key, cert_path=cert)
        except keys.KeyProblem as e:
            if os.environ.get(keys.PASSPHRASE_ENV) or not sys.stdin.isatty() or \
                    not any(w in str(e) for w in ("no passphrase", "encrypted")):
                raise
            secret = typer.prompt(f"Passphrase for {key}", hide_input=True)
            return keys.load(key, secret.encode(), cert_path=cert)
    except keys.KeyProblem as e:
        err.print(f"[bold red]Unusable signing key[/]: {e}", highlight=False)
        raise typer.Exit(2) from None


@keys_app.command("demo")
def keys_demo(force: Annotated[bool, typer.Option(help="Replace existing demo keys.")] = False) -> None:
    """Create a demo CA and signing certificate in the data directory (owner-only files)."""
    from footprint.certificates import keys

    made = keys.ensure_demo(data_home.resolve(), force=force)
    state = "created" if made.created else "already present (use --force to replace)"
    out.print(f"demo keys {state}: {made.signer} (signing key, PKCS#12), {made.ca_cert} (trusted root)",
              soft_wrap=True, highlight=False)
    out.print("documents signed with them say DEMO — NOT A VALID CERTIFICATION", highlight=False)


def _tsa_roots(files: list[Path] | None) -> list:
    """The data directory's trusted roots and the given TSA roots; exit 2 when one cannot be read."""
    from footprint.certificates import keys

    try:
        return keys.trust_roots(data_home.resolve(), files or [])
    except keys.KeyProblem as e:
        err.print(f"[bold red]Usage error[/]: {e}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def timestamp(
    pdf_file: Annotated[Path, typer.Argument(help="A registered B-LTA certificate PDF.", show_default=False)],
    tsa: Annotated[str, typer.Option("--tsa", help="RFC 3161 timestamp authority URL.")],
    tsa_root: Annotated[Optional[list[Path]], typer.Option(
        "--tsa-root", help="Root certificate of the TSAs (old and new), if not in <home>/trust; repeatable.")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Where to write (default: replace the file).")
                        ] = None,
) -> None:
    """Add a new document timestamp to a B-LTA certificate before the last one's TSA certificate expires.

    The certificate must verify first; the new file's SHA-256 is recorded in the registry (an audited
    change), and the earlier files stay valid.
    """
    import hashlib

    from footprint.certificates import signing, verification
    from footprint.files import write_atomic

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    if not pdf_file.is_file():
        err.print(f"[bold red]Usage error[/]: no file {pdf_file}")
        raise typer.Exit(2)
    roots = _tsa_roots(tsa_root)
    with _registry() as reg:
        verdict = verification.verify(pdf_file, roots, verification.DatabaseSource(reg))
        if not verdict.valid or verdict.number is None:
            err.print(f"[bold red]Not timestamped[/]: the certificate does not verify ({verdict.reasons[0]})",
                      highlight=False)
            raise typer.Exit(1)
        try:
            renewed = signing.add_document_timestamp(pdf_file.read_bytes(), tsa, roots)
        except Exception as e:  # noqa: BLE001 - a TSA or validation failure, shown cleanly
            _fail(e)
        record = reg.add_file(verdict.number, hashlib.sha256(renewed).hexdigest(), "PAdES B-LTA",
                              f"document timestamp added ({tsa})")
    target = out_file or pdf_file
    write_atomic(target, renewed)
    out.print(f"{target}: document timestamp added; {record.number} now has {len(record.files())} registered "
              "file(s)", highlight=False, soft_wrap=True)


def _registry(url: str | None = None):
    """The registry, or exit 2 with the database's own one-line reason when it cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from footprint.registry.records import Registry

    try:
        return Registry.open(data_home.resolve(), url)
    except SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        err.print(f"[bold red]Registry unavailable[/]: {_shown(reason)}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def verify(
    pdf_file: Annotated[Path, typer.Argument(help="A certificate PDF.", show_default=False)],
    trust: Annotated[Optional[list[Path]], typer.Option(
        "--trust", help="Trusted root certificate (PEM/DER); repeatable. The data directory's roots "
                        "(<home>/trust, e.g. the demo CA) are always trusted.")] = None,
    registry: Annotated[Optional[str], typer.Option(
        "--registry", help="Registry database URL, or a signed export file (`footprint registry export`). "
                           "Default: the data directory's registry ($FOOTPRINT_DATABASE_URL).")] = None,
) -> None:
    """Check a certificate: signature, whole-file coverage, trusted signer, data hashes, status.

    Exit 0 valid, 1 invalid (reason printed), 2 usage error.
    """
    from footprint.certificates import keys, verification
    from footprint.registry.records import DB_FILE, URL_ENV

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # its diff-analysis warnings are our checks
    if not pdf_file.is_file():
        err.print(f"[bold red]Usage error[/]: no file {pdf_file}")
        raise typer.Exit(2)
    try:
        roots = keys.trust_roots(data_home.resolve(), trust or [])
    except keys.KeyProblem as e:
        err.print(f"[bold red]Usage error[/]: {e}", highlight=False)
        raise typer.Exit(2) from None
    source = None
    try:
        if registry and Path(registry).is_file():
            source = verification.load_export(Path(registry), roots)
        elif registry and "://" not in registry:
            err.print(f"[bold red]Usage error[/]: --registry {registry}: no such export file, and not a database URL")
            raise typer.Exit(2)
        elif registry or os.environ.get(URL_ENV) or (data_home.resolve() / DB_FILE).exists():
            source = verification.DatabaseSource(_registry(registry))
    except typer.Exit:
        raise
    except ValueError as e:
        err.print(f"[bold red]Registry export rejected[/]: {_shown(e)}", highlight=False)
        raise typer.Exit(1) from None
    except Exception as e:  # noqa: BLE001 - an unreachable database is a usage problem, not a verdict
        err.print(f"[bold red]Usage error[/]: cannot open the registry: {_shown(e)}", highlight=False)
        raise typer.Exit(2) from None
    verdict = verification.verify(pdf_file, roots, source)
    from footprint.exchange.shipment import check_declaration

    check_declaration(pdf_file, verdict, source)
    out.print(_shown(pdf_file) + (f" — certificate {_shown(verdict.number)}" if verdict.number else ""),
              highlight=False, soft_wrap=True)
    for c in verdict.checks:
        mark = "[green]PASS[/]" if c.ok else "[bold red]FAIL[/]"
        out.print(f"  {mark} {c.name:<9} {_shown(c.detail)}", highlight=False, soft_wrap=True)
    for f in verdict.facts:
        out.print(f"  INFO {_shown(f)}", highlight=False, soft_wrap=True)
    for w in verdict.warnings:
        out.print(f"  [yellow]WARN[/] {_shown(w)}", highlight=False, soft_wrap=True)
    if verdict.valid:
        out.print("[bold green]VALID[/]")
        raise typer.Exit(0)
    out.print(f"[bold red]INVALID[/]: {_shown(verdict.reasons[0])}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def revoke(
    number: Annotated[str, typer.Argument(help="Certificate number.", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why it is withdrawn (recorded and shown by verify).")],
) -> None:
    """Withdraw (revoke) a certificate; `footprint verify` then reports it as revoked."""
    from footprint.registry.records import RegistryError

    try:
        with _registry() as reg:
            record = reg.revoke(number, reason)
    except RegistryError as e:
        err.print(f"[bold red]Error[/]: {e}", highlight=False)
        raise typer.Exit(2) from None
    out.print(f"{record.number} withdrawn at {record.revoked_at}: {record.revocation_reason}", highlight=False)


@registry_app.command("export")
def registry_export(
    out_file: Annotated[Path, typer.Option("--out", help="Export file to write.")] = Path(
        "certificates/registry-export.json"),
    key: Annotated[Optional[Path], typer.Option("--key", help="Signing key, as for certify (default: demo).")] = None,
    cert: Annotated[Optional[Path], typer.Option("--cert", help="PEM chain for a PEM --key.")] = None,
) -> None:
    """Write a signed JSON list of issued and revoked certificates, for offline `verify --registry`."""
    from footprint.registry.records import write_export

    signing_key = _signing_key(key, cert)
    with _registry() as reg:
        payload = write_export(reg, signing_key, out_file)
    n = len(payload["certificates"])
    withdrawn = sum(1 for c in payload["certificates"] if c["status"] == "withdrawn")
    out.print(f"wrote {out_file}: {n} certificate(s), {withdrawn} withdrawn, signed by {signing_key.holder}",
              soft_wrap=True, highlight=False)


@audit_app.command("verify")
def audit_verify(
    export: Annotated[Optional[list[Path]], typer.Option(
        "--export", help="A signed registry export made earlier: the entry it names must still be in the log "
                         "(catches a log cut short together with this data directory). Repeatable.")] = None,
    trust: Annotated[Optional[list[Path]], typer.Option(
        "--trust", help="Trusted root for the exports' signatures (as for verify).")] = None,
) -> None:
    """Check the audit log: every link and signature, the witnessed head, and every registry table against a
    replay of the log. Exit 1 if anything was inserted, edited, re-chained, deleted or changed in SQL."""
    from footprint.certificates import keys
    from footprint.registry.records import read_export

    anchors = []
    try:
        roots = keys.trust_roots(data_home.resolve(), trust or [])
        for path in export or []:
            payload, _ = read_export(path, roots)
            anchors.append((int(payload["audit_entries"]), str(payload["audit_head"]), f"export {path.name}"))
    except (keys.KeyProblem, ValueError, KeyError) as e:
        err.print(f"[bold red]Usage error[/]: {e}", highlight=False)
        raise typer.Exit(2) from None
    with _registry() as reg:
        report = reg.audit_report(anchors)
    if report.ok:
        key = f", signed by registry key {report.key[:16]}…" if report.key else ""
        older = f" ({report.unsigned} written before the key, sealed by the chain)" if report.unsigned else ""
        out.print(f"[green]Audit log intact[/]: {report.entries} entries{older}{key}, head {report.head[:16]}…; "
                  "every table matches the log", highlight=False, soft_wrap=True)
        return
    for p in report.problems:
        out.print(f"  [bold red]FAIL[/] {p}", highlight=False)
    out.print(f"[bold red]Audit log tampered[/]: {len(report.problems)} problem(s) in {report.entries} entries")
    raise typer.Exit(1)


@registry_app.command("recover")
def registry_recover() -> None:
    """Finish what killed or crashed runs left: void numbers reserved by processes that are gone, publish
    recorded files still under their pending name, delete unrecorded ones. (certify also does this first.)"""
    from footprint.certificates import issuing

    with _registry() as reg:
        done = issuing.recover(reg)
        still = [p for p in reg.pending() if p.alive]
    for number in done.voided:
        out.print(f"voided {number} (its process ended without issuing it)", highlight=False)
    for path in done.published:
        out.print(f"published {path} (recorded before the process ended)", highlight=False, soft_wrap=True)
    for path in done.removed:
        out.print(f"removed {path} (never recorded)", highlight=False, soft_wrap=True)
    for p in still:
        out.print(f"left {p.number}: still being issued by process {p.holder.get('pid')} on {p.holder.get('host')}",
                  highlight=False)
    if not (done.voided or done.published or done.removed):
        out.print("nothing to recover", highlight=False)


def _write(path: Path, text: str) -> None:
    """Write via a temporary file so a failure never leaves half a file."""
    from footprint.files import write_atomic

    write_atomic(path, text.encode("utf-8"))
    err.print(f"wrote {path}", style="dim")


from footprint.cli import batch as _batch  # noqa: E402 - the batch commands' own module, added after the others
from footprint.cli import exchange as _exchange  # noqa: E402, F401 - registers the exporters' commands
from footprint.cli import export as _export  # noqa: E402, F401 - registers footprint export
from footprint.cli import reviewers as _reviewers  # noqa: E402, F401 - registers footprint reviewers
from footprint.cli import surveillance as _surveillance  # noqa: E402, F401 - registers surveillance, registry due
from footprint.cli import users as _users  # noqa: E402, F401 - registers footprint users

app.add_typer(_batch.app, name="batch")
from footprint.cli import serve as _serve  # noqa: E402 - registers its commands on the app defined above

_serve.register(app)


def _terminated(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so an issue in progress voids its number and removes its file."""
    raise KeyboardInterrupt


def run() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)





if __name__ == "__main__":
    run()
