"""A product's results as a PACT v3 ProductFootprint, with footprint's own data as an extension.

PACT numbers are decimal strings; they are written at full precision (rounding is for the
printed document). The declared unit of PACT is ``declaredUnitAmount`` × a PACT unit, and its
values are per that declared unit, so a park unit such as ``t`` maps to 1000 kilogram with
the per-tonne values unchanged.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from footprint.park.models import ProductResult, Results
from footprint.registry.certificate import DRAFT, Certificate, Review

SPEC_VERSION = "3.0.3"
EXTENSION_SCHEMA = "urn:footprint:certificate-data:1"
CROSS_SECTORAL_STANDARDS = ["ISO14067", "GHGP-Product", "PACT-3.0"]  # the spec's values; GB/T 24067 is on the PDF
EXEMPTED_PERCENT = 0.0  # footprint cuts nothing off: every reported row counts (checks.py, "exemptions")

# park unit -> (PACT declaredUnitOfMeasurement, how many of it one park unit is, kg per park unit if a mass)
UNITS: dict[str, tuple[str, float, float | None]] = {
    "kg": ("kilogram", 1, 1.0), "g": ("kilogram", 0.001, 0.001), "t": ("kilogram", 1000, 1000.0),
    "kWh": ("kilowatt hour", 1, None), "MWh": ("kilowatt hour", 1000, None),
    "MJ": ("megajoule", 1, None), "GJ": ("megajoule", 1000, None), "TJ": ("megajoule", 1_000_000, None),
    "L": ("liter", 1, None), "m3": ("cubic meter", 1, None), "piece": ("piece", 1, None),
    "tkm": ("ton kilometer", 1, None),
}
ENERGY_OR_SERVICE = {"kilowatt hour", "megajoule", "ton kilometer"}


def dec(x: float) -> str:
    """Shortest exact decimal string of a float, never in exponent form nor ``-0``."""
    d = Decimal(repr(float(x) + 0.0))
    text = format(d, "f")
    return "0" if d == 0 else text


def _dt(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _urn(domain: str, kind: str, *parts: str) -> str:
    """``urn:pact:<domain>:<kind>:<parts>``, the PACT-recommended form qualified by the issuer's domain."""
    return f"urn:pact:{domain}:{kind}:" + ":".join(quote(p, safe="-._") for p in parts)


def footprint_id(number: str) -> str:
    """Stable UUID of a certificate's ProductFootprint: the same number always gets the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:footprint:certificate:{number}"))


def declared_unit(product: ProductResult) -> tuple[str, str, str]:
    """(PACT unit, declaredUnitAmount, productMassPerDeclaredUnit) for one park unit of the product."""
    if product.unit not in UNITS:
        raise ValueError(f"product {product.product_id}: unit {product.unit!r} has no PACT declared unit "
                         f"(known: {', '.join(UNITS)})")
    pact_unit, amount, mass = UNITS[product.unit]
    if product.mass_kg is not None:
        mass = product.mass_kg
    if mass is None:
        mass = 0.0  # PACT: 0 where mass is not relevant (energy, logistics) or not reported
    return pact_unit, dec(amount), dec(mass)


def results_of(results: Results, product: ProductResult) -> Results:
    """The park results cut to one product: what a certificate's data file carries."""
    return results.model_copy(update={"products": [product]})


def product_footprint(results: Results, product: ProductResult, certificate: Certificate,
                      country: str | None = None, region: str | None = None) -> dict[str, Any]:
    """The ProductFootprint of one product; ``extensions[0].data`` holds footprint's own data."""
    pact_unit, unit_amount, mass = declared_unit(product)
    luc_removal = product.luc < 0
    pcf: dict[str, Any] = {
        "declaredUnitOfMeasurement": pact_unit,
        "declaredUnitAmount": unit_amount,
        "productMassPerDeclaredUnit": mass,
        "referencePeriodStart": _dt(results.period.start),
        "referencePeriodEnd": _dt(results.period.end + timedelta(days=1)),
        "pcfExcludingBiogenicUptake": dec(product.total),
        "pcfIncludingBiogenicUptake": dec(product.total),
        "fossilGhgEmissions": dec(product.fossil),
        "fossilCarbonContent": "0",
        "landUseChangeGhgEmissions": "0" if luc_removal else dec(product.luc),
        "biogenicNonCO2Emissions": dec(product.biogenic),
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": CROSS_SECTORAL_STANDARDS,
        "boundaryProcessesDescription": (
            f"Cradle-to-gate: all inputs and direct emissions reported by {product.facility} for "
            f"{results.period.start} to {results.period.end}, with their upstream supply chains in the park "
            f"and in the background data; no use phase, distribution or end of life."),
        "exemptedEmissionsPercent": dec(EXEMPTED_PERCENT),
        "exemptedEmissionsDescription": "None: every reported input and emission row is included.",
        "allocationRulesDescription": allocation_text(product),
        "primaryDataShare": dec(product.primary_data_share * 100),
        "ccsTechnologicalCO2CaptureIncluded": False,  # the park format has no CCS or CCU rows
    }
    packaging = [c for c in product.contributions_by_category if c.key == "packaging"]
    pcf["packagingEmissionsIncluded"] = bool(packaging)
    if packaging:
        pcf["packagingGhgEmissions"] = dec(max(0.0, packaging[0].total))
    if luc_removal:
        pcf["landManagementBiogenicCO2Removals"] = dec(product.luc)
    if region and country and region.startswith(f"{country}-"):  # PACT: one geography, the most specific
        pcf["geographyCountrySubdivision"] = region
    elif country:
        pcf["geographyCountry"] = country
    sources = secondary_sources(results, product)
    if sources:
        pcf["secondaryEmissionFactorSources"] = sources
    domain = certificate.issuer.pact_domain
    company_ids = [_urn(domain, "company-id", product.enterprise_id)] if product.enterprise_id else []
    company_ids.append(_urn(domain, "facility-id", results.park, product.facility_id))
    footprint: dict[str, Any] = {
        "id": footprint_id(certificate.number),
        "specVersion": SPEC_VERSION,
        "created": _dt(certificate.issue_date),
        "status": "Active",
        "validityPeriodStart": _dt(certificate.valid_from),
        "validityPeriodEnd": _dt(certificate.valid_until + timedelta(days=1)),
        "companyName": product.enterprise,
        "companyIds": company_ids,
        "productDescription": " / ".join(n for n in (product.name_zh, product.name) if n),
        "productIds": [_urn(domain, "product-id", results.park, product.product_id)],
        "productNameCompany": product.name,
        "comment": f"{status_text(certificate)} Fossil and biogenic carbon content and biogenic CO2 uptake are "
                   f"not assessed (reported as 0).",
        "pcf": pcf,
        "extensions": [{
            "specVersion": "2.0.0",
            "dataSchema": EXTENSION_SCHEMA,
            "data": {
                "format": "footprint-certificate-data/1",
                "certificate": certificate.model_dump(mode="json"),
                "results": results_of(results, product).model_dump(mode="json"),
            },
        }],
    }
    if certificate.supersedes:
        footprint["precedingPfIds"] = [footprint_id(n) for n in certificate.supersedes]
    if certificate.review:
        pcf["verification"] = verification(certificate.review)
    if product.hs_code:
        footprint["productClassifications"] = [f"urn:pact:productclassification:hs:{product.hs_code}"]
    return footprint


def status_text(certificate: Certificate) -> str:
    """What the record is: a draft (not certified), or a certificate, reviewed or self-declared."""
    if certificate.status == DRAFT:
        return "Not certified: computed by footprint from the park's reported data; no certificate was issued."
    kind = "verified, see verification" if certificate.review else "self-declared, not verified by a third party"
    return (f"Certificate {certificate.number} by {certificate.issuer.name} under "
            f"{certificate.issuer.rules.rule_en} ({kind}).")


def verification(review: Review) -> dict[str, str]:
    """PACT ``verification`` from the statement recorded with the approval (self-declared: none)."""
    st = review.statement
    return {
        "coverage": "product level", "providerName": st.verifier,
        "completedAt": review.decided_at[:19] + "Z", "standardName": st.standard,
        "comments": (f"{st.assurance.capitalize()} assurance; materiality {st.materiality_percent:g} % of the "
                     f"footprint; criteria: {st.criteria}; scope: {st.scope}; intended users: {st.intended_users}; "
                     f"verifier accreditation (ISO 14065): {st.accreditation}; opinion: {st.opinion} "
                     f"Reviewed by {review.reviewer}; calculation bundle SHA-256 {review.bundle_sha256}."),
    }


def registry_footprint(issued: str, status: str) -> dict[str, Any]:
    """A registry certificate's ProductFootprint as issued, with the PACT status of the certificate now:
    ``Active`` while it is active, else ``Deprecated`` (superseded, withdrawn, suspended, expired)."""
    footprint = json.loads(issued)
    footprint["status"] = "Active" if status == "active" else "Deprecated"
    return footprint


def allocation_text(product: ProductResult) -> str:
    a = product.allocation
    if a.basis == "single output":
        return "No allocation: the facility has a single output."
    return (f"{a.basis} allocation: this product carries {a.share:.6g} of its facility's inputs and emissions "
            f"(ISO 14067 6.4.6).")


def secondary_sources(results: Results, product: ProductResult) -> list[dict[str, str]]:
    """Background databases the product depends on, with their version labels."""
    out = []
    for name in product.background:
        key = f"park:{results.park}" if name == "park factors.csv" else name
        out.append({"name": name, "version": results.databases.get(key, "unversioned")})
    return out
