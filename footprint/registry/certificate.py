"""What a certificate asserts besides the footprint: number, dates, validity, status, issuer.

Kept apart from rendering so the signing/registry step can reuse the rules (validity capped at
PACT v3's 3 years after the reference period) and replace draft numbers with registered ones.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict

from footprint.park.models import Period, ProductResult, Results
from footprint.registry.issuer import Issuer

DRAFT = "draft"


class CertificateError(ValueError):
    """The certificate cannot be issued as asked (bad date, unknown product, ...)."""


class Review(BaseModel):
    """The certification body's approval the certificate rests on (footprint review decide)."""

    model_config = ConfigDict(frozen=True)

    reviewer: str
    decided_at: str
    bundle_sha256: str
    comment: str


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
    self_declared: bool = False  # issued without a third-party review; the certificate says so
    review: Review | None = None


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def valid_until(period: Period, issuer: Issuer) -> date:
    """Last valid day: ``validity_years`` (≤ 3) after the reference period's end, inclusive."""
    return add_years(period.end + timedelta(days=1), issuer.validity_years) - timedelta(days=1)


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
    until = valid_until(period, issuer)
    if issue_date <= period.end:
        raise CertificateError(f"issue date {issue_date} is not after the end of the reference period {period.end}")
    if issue_date > until:
        raise CertificateError(f"issue date {issue_date} is after the end of validity {until} "
                               f"({issuer.validity_years} years after the reference period)")
    return Certificate(number=draft_number(issuer, results, product, issue_date), product_id=product_id,
                       issue_date=issue_date, valid_from=issue_date, valid_until=until, reference_period=period,
                       issuer=issuer)
