"""What a certificate asserts besides the footprint: number, dates, validity, surveillance, status,
issuer, the review and its verification statement, and the certificates it replaces.

Kept apart from rendering so the signing/registry step can reuse the rules (validity and surveillance
by the issuer's scheme, registry/schemes.py) and replace draft numbers with registered ones.
"""

from __future__ import annotations

import hashlib
from datetime import date

from pydantic import BaseModel, ConfigDict

from footprint.park.models import Period, ProductResult, Results
from footprint.registry.issuer import Issuer
from footprint.registry.schemes import last_valid_day, surveillance_due
from footprint.registry.statement import VerificationStatement

DRAFT = "draft"


class CertificateError(ValueError):
    """The certificate cannot be issued as asked (bad date, unknown product, ...)."""


class Review(BaseModel):
    """The certification body's approval the certificate rests on (footprint review decide)."""

    model_config = ConfigDict(frozen=True)

    reviewer: str  # as printed: name (organisation, accreditation)
    decided_at: str
    bundle_sha256: str
    comment: str
    statement: VerificationStatement
    reviewer_id: str | None = None  # the registered reviewer (footprint reviewers add)
    entry: dict | None = None  # the decision's audit entry: entry_seq, entry_hash


class Certificate(BaseModel):
    """The facts of one certificate; everything it prints comes from here and from the results."""

    model_config = ConfigDict(frozen=True)

    number: str
    product_id: str
    issue_date: date
    valid_from: date
    valid_until: date  # inclusive
    reference_period: Period
    status: str = DRAFT
    issuer: Issuer
    surveillance_due: date | None = None  # the scheme's first surveillance, if it has one
    self_declared: bool = False  # issued without a third-party review; the certificate says so
    review: Review | None = None
    supersedes: tuple[str, ...] = ()  # numbers of the earlier certificates of this product, newest first
    site_address: str | None = None  # the producing facility's address (facilities.csv, format 2)


def valid_until(period: Period, issuer: Issuer, issue_date: date) -> date:
    """Last valid day (inclusive) under the issuer's scheme."""
    return last_valid_day(issuer.rules, issue_date, period.end, issuer.validity_years)


def draft_number(issuer: Issuer, results: Results, product: ProductResult, issue_date: date) -> str:
    """A reproducible draft number from the product's results; the registry will assign final ones."""
    digest = hashlib.sha256("\n".join([results.park, product.product_id, issue_date.isoformat(),
                                       product.model_dump_json()]).encode()).hexdigest()
    return f"{issuer.number_prefix}-{issue_date:%Y}-D{digest[:8].upper()}"


def draft(results: Results, product_id: str, issuer: Issuer, issue_date: date) -> Certificate:
    """The draft certificate of one product, checking that the dates make sense."""
    try:
        product = results.product(product_id)
    except KeyError:
        known = ", ".join(p.product_id for p in results.products)
        raise CertificateError(f"unknown product {product_id!r} in park {results.park} (products: {known})") from None
    period = results.period
    until = valid_until(period, issuer, issue_date)
    if issue_date <= period.end:
        raise CertificateError(f"issue date {issue_date} is not after the end of the reference period {period.end}")
    if issue_date > until:
        raise CertificateError(f"issue date {issue_date} is after the end of validity {until} "
                               f"(scheme {issuer.scheme})")
    return Certificate(number=draft_number(issuer, results, product, issue_date), product_id=product_id,
                       issue_date=issue_date, valid_from=issue_date, valid_until=until, reference_period=period,
                       surveillance_due=surveillance_due(issuer.rules, issue_date, until), issuer=issuer)
