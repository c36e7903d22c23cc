"""The certification body's review workflow: report + bundle, decisions, and the approval gate.

A decision is an entry of the registry's hash-chained audit log (action ``review``, subject
``<park>/<product>``) holding the bundle hash it was made on, and the Monte Carlo iterations and
seed of that bundle, and the registered reviewer who took it (``footprint reviewers add``; a
decision naming anyone else is refused). A product may be certified only while the park's
*current* bundle, recomputed with those iterations and seed, has the approved hash: any changed
row, factor, method or engine version changes the hash and so voids the approval. The decision
relied on must be signed by the registry key and linked into the log, and the log must not have
been cut short (a deleted trailing rejection would otherwise let an older approval through).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from footprint.files import write_atomic
from footprint.park.models import ParkData, Results
from footprint.registry import audit, reviewers, seal
from footprint.registry.certificate import Review
from footprint.registry.records import Registry
from footprint.registry.schema import AuditEntry
from footprint.registry.statement import VerificationStatement
from footprint.review import bundle

if TYPE_CHECKING:
    from footprint.engine.checks import Finding

ACTION = "review"


class NotApproved(Exception):
    """Issuing refused: no approval of the current calculation."""


@dataclass(frozen=True)
class ReviewOutput:
    html: Path
    pdf: Path
    bundle: Path
    bundle_hash: str
    results: Results
    findings: list[Finding]  # the checks' findings the report lists (engine/checks.py)


def run_review(park_dir: Path, out_dir: Path, products: list[str], iterations: int, seed: int, day: date,
               step=lambda _: None) -> ReviewOutput:
    """Compute with Monte Carlo, write the bundle, and render the review report (HTML + PDF)."""
    from footprint.engine import locks
    from footprint.engine.background import ensure_project
    from footprint.engine.calculation import Solution, calculate
    from footprint.engine.inventory import build_foreground, write_foreground
    from footprint.park.loading import load_park
    from footprint.review import document as review_document
    from footprint.review.report import build

    park = load_park(park_dir)
    unknown = sorted(set(products) - {o.product_id for o in park.outputs})
    if unknown:
        raise ValueError(f"unknown product(s) {', '.join(unknown)} in {park_dir}")
    step("Preparing the Brightway project")
    with locks.project():
        ensure_project()
    with locks.park(park.park.id):  # runs on the same park wait for each other (engine/locks.py)
        fg = build_foreground(park)
        write_foreground(fg)
        step(f"Computing with {iterations} Monte Carlo iterations")
        solution = Solution(fg)
        results = calculate(fg, iterations, seed, solution)
        step("Tracing the supply chains")
        traced = build(fg, solution, results, products)
    files = bundle.contents(park_dir, results, iterations, seed)
    digest = bundle.digest(files)
    step("Rendering the report")
    html, pdf = review_document.render(traced, digest, iterations, seed, day)
    # the bundle is written last: a failed report never leaves a bundle without its report
    stem = out_dir / f"{park.park.id}-review"
    bundle_path = out_dir / f"{park.park.id}-bundle.zip"
    for path, data in ((stem.with_suffix(".html"), html.encode()), (stem.with_suffix(".pdf"), pdf),
                       (bundle_path, bundle.pack(files))):
        write_atomic(path, data)
    return ReviewOutput(stem.with_suffix(".html"), stem.with_suffix(".pdf"), bundle_path, digest, results,
                        traced.findings)


def current_bundle_hash(park_dir: Path, iterations: int, seed: int, park: ParkData | None = None
                        ) -> tuple[str, Results]:
    """Hash of the bundle the park's files give today, and its results (``park``: those files, already loaded)."""
    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park

    results = compute_park(park or load_park(park_dir), iterations=iterations, seed=seed)
    return bundle.digest(bundle.contents(park_dir, results, iterations, seed)), results


def decide(registry: Registry, park: str, product: str, approve: bool, reviewer: str, comment: str,
           bundle_hash: str, iterations: int, seed: int,
           statement: VerificationStatement | None = None) -> AuditEntry:
    """Record a registered reviewer's decision on a product's calculation in the audit log; an approval
    carries the verification statement the certificate will print (ISO 14064-3), a rejection needs none."""
    if not reviewer.strip() or not comment.strip():
        raise ValueError("a decision needs the reviewer's id and a comment")
    if approve and statement is None:
        raise ValueError("an approval needs the verification statement: --statement FILE.yaml or the options "
                         "--verifier --accreditation --assurance --materiality --criteria --scope "
                         "--intended-users --opinion")
    with registry.write() as session:
        identity = reviewers.active(session, reviewer.strip())
        detail = {"decision": "approve" if approve else "reject", **identity.snapshot(), "comment": comment,
                  "bundle_sha256": bundle_hash, "iterations": iterations, "seed": seed}
        if statement is not None:
            detail["statement"] = statement.model_dump(mode="json")
        return audit.append(session, ACTION, f"{park}/{product}", detail)


def decide_bundle(registry: Registry, park_dir: Path, bundle_path: Path, products: list[str], approve: bool,
                  reviewer: str, comment: str, statement: VerificationStatement | None = None,
                  expected_hash: str | None = None) -> tuple[str, list[AuditEntry]]:
    """Record one decision per product (default: every product of the park) on a reviewed bundle of that
    park, with the Monte Carlo settings the bundle records: ``(bundle hash, audit entries)``. What
    ``footprint review decide`` and the reviewer's web page both do; the page passes the hash of the bundle
    the reviewer saw (``expected_hash``), so a bundle written again since is never decided on unseen."""
    from footprint.park.loading import load_park

    park = load_park(park_dir)
    known = [o.product_id for o in park.outputs if o.kind != "waste"]  # a waste output gets no certificate
    unknown = [p for p in products if p not in known]
    if unknown:
        raise ValueError(f"unknown product(s) {', '.join(unknown)} in {park_dir} (products: {', '.join(known)})")
    files = bundle.read(bundle_path)
    if json.loads(files[bundle.MANIFEST])["park"] != park.park.id:
        raise ValueError(f"{bundle_path} is a bundle of another park")
    iterations, seed = bundle.settings(files)
    digest = bundle.digest(files)
    if expected_hash is not None and digest != expected_hash:
        raise ValueError(f"{bundle_path} changed since it was shown (bundle {expected_hash[:12]}, now {digest[:12]}); "
                         "look at the new report before deciding")
    return digest, [decide(registry, park.park.id, pid, approve, reviewer, comment, digest, iterations, seed,
                           statement) for pid in products or known]


def latest_decision(registry: Registry, park: str, product: str) -> dict | None:
    """The newest decision on a product, once its entry proved signed, linked and not cut off the log."""
    with registry.read() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == ACTION)
                                .where(AuditEntry.subject == f"{park}/{product}")
                                .order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
        problems = audit.check_entries(session, [entry] if entry else [], registry.seal(),
                                       seal.witnessed(registry.witness))
        if problems:
            raise NotApproved(f"{park}/{product}: the registry's audit log was tampered with ({'; '.join(problems)}); "
                              "no certificate is issued on it — run `footprint audit verify`")
        if entry is None:
            return None
        decision = {**json.loads(entry.detail), "at": entry.at, "seq": entry.seq, "hash": entry.hash}
        if reviewers.get(session, decision.get("reviewer", "")) is None:
            raise NotApproved(f"{park}/{product}: decision {entry.seq} names {decision.get('reviewer')!r}, who is "
                              "not a registered reviewer")
        return decision


def _who(decision: dict) -> str:
    """How a decision's reviewer is named in messages and on the certificate."""
    extra = f", {decision['reviewer_accreditation']}" if decision.get("reviewer_accreditation") else ""
    name = decision.get("reviewer_name") or decision.get("reviewer")
    return f"{name} ({decision['reviewer_organisation']}{extra})" if decision.get("reviewer_organisation") else name


def review_facts(decision: dict) -> dict:
    """Which audit entry the approval is (the registry keeps it with the certificate)."""
    return {"entry_seq": decision["seq"], "entry_hash": decision["hash"]}


def approved_results(registry: Registry, park_dir: Path, park: str, products: list[str],
                     loaded: ParkData | None = None) -> tuple[Results, dict[str, Review]]:
    """The results of the approved calculation (with its Monte Carlo interval) and each product's
    review, or NotApproved naming why a product may not be certified. The park is computed once,
    with the approved bundle's settings; certify issues from exactly these results."""
    approvals, current = _approvals(registry, park_dir, park, products, loaded)
    if len(current) > 1:
        raise NotApproved("the products were approved on bundles of different Monte Carlo settings; "
                          "certify them separately")
    (_, results), = current.values()
    return results, {pid: Review(reviewer=_who(a), reviewer_id=a["reviewer"], decided_at=a["at"],
                                 bundle_sha256=a["bundle_sha256"], comment=a["comment"], entry=review_facts(a),
                                 statement=VerificationStatement.model_validate(a["statement"]))
                     for pid, a in approvals.items()}


def require_approval(registry: Registry, park_dir: Path, park: str, products: list[str]) -> dict[str, dict]:
    """The approving decision of each product, or NotApproved naming why not."""
    return _approvals(registry, park_dir, park, products)[0]


def _approvals(registry: Registry, park_dir: Path, park: str, products: list[str], loaded: ParkData | None = None
               ) -> tuple[dict[str, dict], dict[tuple[int, int], tuple[str, Results]]]:
    approvals, current = {}, {}
    for product in products:
        decision = latest_decision(registry, park, product)
        if decision is None:
            raise NotApproved(f"{park}/{product} has not been reviewed: run `footprint review` and "
                              "`footprint review decide`, or certify with --self-declared")
        if decision["decision"] != "approve":
            raise NotApproved(f"{park}/{product} was rejected by {_who(decision)} on {decision['at'][:10]}: "
                              f"{decision['comment']}")
        if "statement" not in decision:
            raise NotApproved(f"{park}/{product}: the approval of {decision['at'][:10]} records no verification "
                              "statement; record the decision again with one (footprint review decide --statement)")
        key = (decision["iterations"], decision["seed"])
        if key not in current:
            current[key] = current_bundle_hash(park_dir, *key, park=loaded)
        if current[key][0] != decision["bundle_sha256"]:
            raise NotApproved(f"{park}/{product}: the park's data changed since {_who(decision)} approved "
                              f"bundle {decision['bundle_sha256'][:12]} (now {current[key][0][:12]}); "
                              "the approval is void")
        approvals[product] = decision
    return approvals, current
