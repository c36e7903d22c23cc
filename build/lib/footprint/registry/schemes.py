"""Certification schemes: how long a certificate is valid, when surveillance is due, what it prints.

The scheme is the issuer's (``scheme:`` in the issuer file), because it is the certification body
that operates under a scheme's rules. Two are known:

- ``cnca-2025``: CNCA 产品碳足迹标识认证通用实施规则（试行）, published 17 March 2025: certificates
  valid two years from issue, kept valid by post-certification surveillance (here: due 12 months
  after issue), and the China product carbon footprint label.
- ``pact``: PACT Methodology v3: a footprint is valid at most 3 years after its reference period;
  no surveillance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

MAX_PACT_YEARS = 3  # PACT methodology v3: a PCF is valid at most 3 years after its reference period


@dataclass(frozen=True)
class Scheme:
    """A certification scheme's rules, as far as footprint applies them."""

    id: str
    rule_zh: str
    rule_en: str
    years_from_issue: int | None  # validity counted from the issue date, or None: from the period's end
    surveillance_months: int | None
    label_zh: str | None = None
    label_en: str | None = None


SCHEMES: dict[str, Scheme] = {
    "cnca-2025": Scheme(
        id="cnca-2025",
        rule_zh="国家认监委《产品碳足迹标识认证通用实施规则（试行）》（2025年3月）",
        rule_en="CNCA General Implementation Rules for Product Carbon Footprint Label Certification (trial), "
                "March 2025",
        years_from_issue=2, surveillance_months=12,
        label_zh="中国产品碳足迹标识", label_en="China Product Carbon Footprint Label"),
    "pact": Scheme(
        id="pact",
        rule_zh="PACT 方法学 v3：有效期至多为数据报告期结束后 3 年",
        rule_en="PACT Methodology v3: valid at most 3 years after the reference period",
        years_from_issue=None, surveillance_months=None),
}


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def last_valid_day(scheme: Scheme, issue_date: date, period_end: date, pact_years: int = MAX_PACT_YEARS) -> date:
    """The certificate's last valid day (inclusive) under the scheme."""
    if scheme.years_from_issue is not None:
        return add_years(issue_date, scheme.years_from_issue) - timedelta(days=1)
    return add_years(period_end + timedelta(days=1), pact_years) - timedelta(days=1)


def surveillance_due(scheme: Scheme, since: date, valid_until: date) -> date | None:
    """The next surveillance date after ``since`` (the issue date or the last surveillance's due date),
    or None when the scheme has none or the certificate ends first."""
    if scheme.surveillance_months is None:
        return None
    due = add_months(since, scheme.surveillance_months)
    return due if due < valid_until else None
