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

# park unit -> (PACT declaredUnitOfMeasurement, how many of it one park unit is, kg per park unit if a mass)
UNITS: dict[str, tuple[str, float, float | None]] = {
    "kg": ("kilogram", 1, 1.0), "g": ("kilogram", 0.001, 0.001), "t": ("kilogram", 1000, 1000.0),
    "kWh": ("kilowatt hour", 1, None), "MWh": ("kilowatt hour", 1000, None),
    "MJ": ("megajoule", 1, None), "GJ": ("megajoule", 1000, None), "TJ": ("megajoule", 1_000_000, None),
    "L": ("liter", 1, None), "m3": ("cubic meter", 1, None), "piece": ("piece", 1, None),
    "tkm": ("ton kilometer", 1, None),
}


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
    """The ProductFootprint of one product; ``extensions[0].data`` holds footprint's own data.

    Every SHALL field is written. BIO fields follow the spec's rule: a value where it applies, 0 where it
    does not apply, absent where it is unknown (carbon contents and uptake the park did not declare).
    Two SHALL fields have no "unknown": an undeclared fossil carbon content is written as 0, and
    without declared uptake ``pcfIncludingBiogenicUptake`` equals the excluding value; ``comment`` says so.
    """
    pact_unit, unit_amount, mass = declared_unit(product)
    luc_removal = product.luc < 0
    excluding = product.total + product.biogenic_co2  # PACT: biogenic CO2 counted at GWP 1
    uptake = product.biogenic_uptake
    pcf: dict[str, Any] = {
        "declaredUnitOfMeasurement": pact_unit,
        "declaredUnitAmount": unit_amount,
        "productMassPerDeclaredUnit": mass,
        "referencePeriodStart": _dt(results.period.start),
        "referencePeriodEnd": _dt(results.period.end + timedelta(days=1)),
        "pcfExcludingBiogenicUptake": dec(excluding),
        "pcfIncludingBiogenicUptake": dec(excluding - (uptake or 0.0)),
        "fossilGhgEmissions": dec(product.fossil),
        "fossilCarbonContent": dec(product.fossil_carbon_content or 0.0),
        "landUseChangeGhgEmissions": "0" if luc_removal else dec(product.luc),
        "biogenicNonCO2Emissions": dec(product.biogenic),
        "ipccCharacterizationFactors": gwp_sets(product),
        "crossSectoralStandards": CROSS_SECTORAL_STANDARDS,
        "boundaryProcessesDescription": boundary_text(results, product),
        "exemptedEmissionsPercent": dec(product.exempted_percent or 0.0),
        "exemptedEmissionsDescription": exempted_text(product),
        "allocationRulesDescription": allocation_text(product),
        "primaryDataShare": dec(product.primary_data_share * 100),
        "ccsTechnologicalCO2CaptureIncluded": False,  # the park format has no CCS or CCU rows
    }
    if product.biogenic_carbon_content is not None:
        pcf["biogenicCarbonContent"] = dec(product.biogenic_carbon_content)
    if uptake is not None:
        pcf["biogenicCO2Uptake"] = dec(-uptake)
    packaging = [c for c in product.contributions_by_category if c.key == "packaging"]
    pcf["packagingEmissionsIncluded"] = bool(packaging)
    if packaging:
        pcf["packagingGhgEmissions"] = dec(max(0.0, packaging[0].total))
    if product.dqi is not None:
        pcf["dqi"] = {"technologicalDQR": dec(product.dqi.ter), "geographicalDQR": dec(product.dqi.ger),
                      "temporalDQR": dec(product.dqi.tir)}
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
        "comment": " ".join([status_text(certificate), *not_assessed(product)]),
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


def not_assessed(product: ProductResult) -> list[str]:
    """Sentences for the comment: what the park did not declare, and how PACT's SHALL fields carry it."""
    out = []
    if product.fossil_carbon_content is None:
        out.append("Fossil carbon content not assessed: fossilCarbonContent is 0 only because PACT requires a value.")
    if product.biogenic_carbon_content is None:
        out.append("Biogenic carbon content not assessed (absent).")
    if product.biogenic_uptake is None:
        out.append("Biogenic CO2 uptake not assessed: pcfIncludingBiogenicUptake equals pcfExcludingBiogenicUptake.")
    if product.exempted_percent is None:
        out.append("No exclusions declared: exemptedEmissionsPercent is 0 only because PACT requires a value.")
    if "unknown" in product.gwp_sets:
        out.append("Some factor rows do not state their IPCC GWP set (unknown).")
    return out


def gwp_sets(product: ProductResult) -> list[str]:
    """The IPCC assessment reports whose GWPs contribute (results' ``gwp_sets``; AR6, the IPCC 2021
    method's, when the results name none). ``unknown`` has no PACT value: the comment states it."""
    return sorted({s for s in product.gwp_sets if s != "unknown"}, key=lambda s: int(s[2:])) or ["AR6"]


def boundary_text(results: Results, product: ProductResult) -> str:
    """The processes in the footprint, and the declared exclusions by name."""
    included = ", ".join(c.label for c in product.contributions_by_category) or "none"
    text = (f"Partial carbon footprint, cradle-to-gate: all inputs and direct emissions reported by the park's "
            f"facilities in the product's supply chain for {results.period.start} to {results.period.end}, with "
            f"their upstream supply chains in the background data (categories: {included}); no distribution, "
            f"use or end of life.")
    if product.exempted_items:
        items = "; ".join(f"{i.item} ({i.facility_id}, estimated {i.per_unit:.3g} kg CO2e per declared unit, "
                          f"{i.basis})" for i in product.exempted_items)
        text += f" Excluded (cut-off, estimated): {items}."
    return text


def exempted_text(product: ProductResult) -> str:
    if product.exempted_percent is None:
        return "No exclusions declared; the exempted share was not assessed."
    if not product.exempted_items:
        return "No emissions exempted."
    return "; ".join(f"{i.item} at {i.facility_id}: {i.basis} (source: {i.source})" for i in product.exempted_items)


def allocation_text(product: ProductResult) -> str:
    """The product's own allocation and every allocation upstream that moves more than 1 % of its total."""
    a = product.allocation
    own = ("No allocation at the producing facility (single output)." if a.basis == "single output" else
           f"{a.basis} allocation at the producing facility: this product carries {a.share:.6g} of its inputs "
           f"and emissions (ISO 14067 6.4.6).")
    chain = [f"{d.facility} ({d.facility_id}): {d.basis}, shares "
             + ", ".join(f"{pid} {share:.4g}" for pid, share in d.shares.items())
             + f", moving {d.moved_share * 100:.1f} % of this product's footprint"
             + (f"; reason: {d.reason}" if d.reason else "")
             for d in product.allocations]
    return own + (" Allocations in the supply chain: " + "; ".join(chain) + "." if chain else "")


def secondary_sources(results: Results, product: ProductResult) -> list[dict[str, str]]:
    """The publications of the background datasets the product draws on, each with its database's version
    label, and the park's own factors.csv; databases whose datasets are not itemised, by name."""
    out: dict[tuple[str, str], None] = {}
    itemised = {d.database for d in product.background_datasets}
    for d in product.background_datasets:
        out[(d.publication, f"{d.database} {results.databases.get(d.database, 'unversioned')}")] = None
    for name in product.background:
        key = f"park:{results.park}" if name == "park factors.csv" else name
        if key not in itemised:
            out[(name, results.databases.get(key, "unversioned"))] = None
    return [{"name": name, "version": version} for name, version in out]
