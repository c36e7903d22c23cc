"""A PACT v3 ProductFootprint as a Catena-X PCF 9.0.0 record (aspect model ``io.catenax.pcf``).

The mapping is mechanical: every value comes from the PACT record (which footprint wrote from the
results and the certificate), except what only the exporter can know — the company's Catena-X
BPNL — and what Catena-X fixes by rule (spec version, cradle-to-gate, retrospective PCF).
README.md, "Catena-X export", tables each field: constant, derived, or configured.

Differences the mapping has to bridge:
- Catena-X numbers are JSON numbers, PACT's decimal strings;
- Catena-X takes one GWP set per entry (``AR4``/``AR5``/``AR6``/``unspecified``), PACT a list;
- Catena-X requires a UN M49 region or subregion even when a country is given;
- Catena-X caps ``exemptedEmissionsPercent`` at 10 % (its rulebook), PACT has no upper bound.
"""

from __future__ import annotations

from typing import Any

SPEC_VERSION = "urn:io.catenax.pcf:datamodel:version:9.0.0"
MAX_EXEMPTED_PERCENT = 10.0

# ISO 3166-1 alpha-2 → UN M49 subregion, for the countries footprint's parks and their buyers are in.
# A country missing here needs --region (the error says so).
M49_SUBREGION: dict[str, str] = {
    **dict.fromkeys(("CN", "HK", "MO", "TW", "JP", "KR", "KP", "MN"), "Eastern Asia"),
    **dict.fromkeys(("VN", "TH", "MY", "SG", "ID", "PH", "KH", "LA", "MM", "BN", "TL"), "South-eastern Asia"),
    **dict.fromkeys(("IN", "PK", "BD", "LK", "NP", "BT", "MV", "IR", "AF"), "Southern Asia"),
    **dict.fromkeys(("KZ", "UZ", "TM", "KG", "TJ"), "Central Asia"),
    **dict.fromkeys(("TR", "SA", "AE", "QA", "KW", "OM", "BH", "IL", "JO", "IQ", "GE", "AM", "AZ"), "Western Asia"),
    **dict.fromkeys(("DE", "FR", "NL", "BE", "LU", "AT", "CH", "LI", "MC"), "Western Europe"),
    **dict.fromkeys(("GB", "IE", "SE", "NO", "DK", "FI", "IS", "EE", "LV", "LT"), "Northern Europe"),
    **dict.fromkeys(("IT", "ES", "PT", "GR", "SI", "HR", "MT", "CY", "RS", "BA", "ME", "MK", "AL"), "Southern Europe"),
    **dict.fromkeys(("PL", "CZ", "SK", "HU", "RO", "BG", "UA", "BY", "MD", "RU"), "Eastern Europe"),
    **dict.fromkeys(("US", "CA"), "Northern America"),
    **dict.fromkeys(("MX", "BR", "AR", "CL", "CO", "PE"), "Latin America and the Caribbean"),
    **dict.fromkeys(("AU", "NZ"), "Australia and New Zealand"),
    **dict.fromkeys(("EG", "MA", "DZ", "TN", "LY", "SD"), "Northern Africa"),
    **dict.fromkeys(("ZA", "NG", "KE", "ET", "GH"), "Sub-Saharan Africa"),
}
GWP_SETS = {"AR4", "AR5", "AR6"}


class CatenaXError(ValueError):
    """A PACT record that cannot become a Catena-X record without more configuration."""


def _certificate_number(footprint: dict[str, Any]) -> str | None:
    """The certificate number footprint's extension carries (drafts and foreign records have none)."""
    for ext in footprint.get("extensions", []):
        cert = ext.get("data", {}).get("certificate") if isinstance(ext.get("data"), dict) else None
        if isinstance(cert, dict) and cert.get("status") != "draft":
            return cert.get("number")
    return None


def _num(text: str | None) -> float | None:
    return None if text is None else float(text)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` only when there is a value: Catena-X, like PACT, means 'unknown' by absence."""
    if value is not None:
        target[key] = value


def pcf_record(footprint: dict[str, Any], bpnl: str, region: str | None = None) -> dict[str, Any]:
    """The Catena-X PCF 9.0.0 record of one PACT v3 ProductFootprint; ``bpnl`` is the data owner's
    Catena-X Business Partner Number (Legal entity), e.g. ``BPNL000000000DWF``."""
    pcf = footprint["pcf"]
    if not bpnl.startswith("BPNL") or len(bpnl) != 16 or not bpnl.isalnum():
        raise CatenaXError(f"{bpnl!r} is not a BPNL (BPNL followed by 12 letters or digits)")
    country = pcf.get("geographyCountry") or (pcf.get("geographyCountrySubdivision") or "")[:2] or None
    region = region or pcf.get("geographyRegionOrSubregion") or M49_SUBREGION.get(country or "")
    if region is None:
        raise CatenaXError(f"{footprint['productNameCompany']}: no UN M49 region known for country {country!r}; "
                           "give one with --region (e.g. 'Eastern Asia')")
    exempted = float(pcf["exemptedEmissionsPercent"])
    if exempted > MAX_EXEMPTED_PERCENT:
        raise CatenaXError(f"{footprint['productNameCompany']}: exempted emissions {exempted:g} % exceed the "
                           f"Catena-X limit of {MAX_EXEMPTED_PERCENT:g} %")

    product: dict[str, Any] = {
        "productNameCompany": footprint["productNameCompany"],
        "productIds": footprint["productIds"],
        "declaredUnitOfMeasurement": pcf["declaredUnitOfMeasurement"],
        "declaredUnitAmount": float(pcf["declaredUnitAmount"]),
        "productMassPerDeclaredUnit": float(pcf["productMassPerDeclaredUnit"]),
        "productDescription": footprint["productDescription"],
    }
    _put(product, "productClassifications", footprint.get("productClassifications"))

    quality: dict[str, Any] = {"primaryDataShare": float(pcf["primaryDataShare"])}
    sources = pcf.get("secondaryEmissionFactorSources")
    if sources:
        quality["secondaryEmissionFactorSources"] = list(dict.fromkeys(f"{s['name']} {s['version']}"
                                                                       for s in sources))
    dqi = pcf.get("dqi")
    if dqi:
        quality.update(technologicalDQR=float(dqi["technologicalDQR"]), geographicalDQR=float(dqi["geographicalDQR"]),
                       temporalDQR=float(dqi["temporalDQR"]))

    technology = {"ccsTechnologicalCO2CaptureIncluded": pcf["ccsTechnologicalCO2CaptureIncluded"]}
    _put(technology, "boundaryProcessesDescription", pcf.get("boundaryProcessesDescription"))
    preceding = footprint.get("precedingPfIds") or []
    id_and_version: dict[str, Any] = {"id": footprint["id"], "version": len(preceding), "status": footprint["status"],
                                      "retroOrProspectivePcfType": "Retrospective PCF"}
    if preceding:
        id_and_version["precedingPfIds"] = [{"id": pid} for pid in preceding]
    boundary: dict[str, Any] = {"exemptedEmissionsPercent": exempted}
    _put(boundary, "exemptedEmissionsDescription", pcf.get("exemptedEmissionsDescription"))
    geography: dict[str, Any] = {"geographyRegionOrSubregion": region}
    _put(geography, "geographyCountry", country)
    _put(geography, "geographyCountrySubdivision", pcf.get("geographyCountrySubdivision"))
    time: dict[str, Any] = {"referencePeriodStart": pcf["referencePeriodStart"],
                            "referencePeriodEnd": pcf["referencePeriodEnd"], "created": footprint["created"]}
    _put(time, "validityPeriodStart", footprint.get("validityPeriodStart"))
    if "validityPeriodEnd" not in footprint:
        raise CatenaXError(f"{footprint['productNameCompany']}: Catena-X requires a validity period end")
    time["validityPeriodEnd"] = footprint["validityPeriodEnd"]

    allocation: list[dict[str, Any]] = []
    methodology = {
        "massBalancingInformation": [],  # footprint does no mass balancing
        "standards": [{"crossSectoralStandards": pcf["crossSectoralStandards"],
                       "productOrSectorSpecificRules": [r for rule in pcf.get("productOrSectorSpecificRules", [])
                                                        for r in rule.get("ruleNames", [])]}],
        "gwpCharacterizationFactorDetails": [
            {"ipccCharacterizationFactors": s if s in GWP_SETS else "unspecified"}
            for s in pcf["ipccCharacterizationFactors"]],
        "allocationInForeground": allocation,  # waste-incineration approach is not a fact footprint records
    }
    assessment: dict[str, Any] = {
        "dataSourcesAndQuality": [quality],
        "pcfAssessmentInformation": [{"technology": [technology], "idAndVersion": [id_and_version],
                                      "boundarySpecifications": [boundary], "geography": [geography],
                                      "time": [time]}],
        "pcfMethodology": [methodology],
    }

    production: dict[str, Any] = {"pcfExcludingBiogenicUptake": float(pcf["pcfExcludingBiogenicUptake"]),
                                  "pcfIncludingBiogenicUptake": float(pcf["pcfIncludingBiogenicUptake"]),
                                  "fossilGhgEmissions": float(pcf["fossilGhgEmissions"])}
    for key in ("biogenicNonCO2Emissions", "biogenicCO2Uptake", "landUseChangeGhgEmissions",
                "landManagementBiogenicCO2Emissions", "landManagementBiogenicCO2Removals", "aircraftGhgEmissions"):
        _put(production, key, _num(pcf.get(key)))
    packaging: dict[str, Any] = {"packagingEmissionsIncluded": pcf["packagingEmissionsIncluded"]}
    _put(packaging, "packagingFossilGhgEmissions", _num(pcf.get("packagingGhgEmissions")))

    carbon: dict[str, Any] = {"fossilCarbonContent": float(pcf["fossilCarbonContent"])}
    _put(carbon, "biogenicCarbonContent", _num(pcf.get("biogenicCarbonContent")))
    _put(carbon, "recycledCarbonContent", _num(pcf.get("recycledCarbonContent")))
    if "biogenicCarbonContent" in carbon:
        carbon["carbonContentTotal"] = carbon["fossilCarbonContent"] + carbon["biogenicCarbonContent"]

    general: dict[str, Any] = {}
    _put(general, "comment", footprint.get("comment"))
    record: dict[str, Any] = {
        "scopeOfPcfForm": [{"specVersion": SPEC_VERSION, "partialFullPcf": "Cradle-to-gate"}],
        "companyAndProductInformation": [{
            "companyInformation": [{"companyName": footprint["companyName"],
                                    "companyIds": [f"urn:{bpnl}", *footprint["companyIds"]]}],
            "productInformation": [product]}],
        "pcfAssessmentAndMethodology": [assessment],
        "general": [general],
        "carbonContent": [carbon],
        "productLifeCycleStagesAndEmissions": [{
            "productionStage": [production],
            "distributionStage": [{"distributionStageIncluded": False}],
            "packagingStage": [packaging]}],
    }
    verification = pcf.get("verification")
    if verification:
        assessment["verificationAndCertificationShares"] = [{"productVerificationShare3rdParty": 100}]
        attestation = {"attestationType": "PCF Verification",
                       "standardName": verification.get("standardName", ""),
                       "attestationStandard": verification.get("standardName", ""),
                       "attestationOfConformanceId": _certificate_number(footprint) or footprint["id"],
                       "providerName": verification.get("providerName", "")}
        _put(attestation, "completedAt", verification.get("completedAt"))
        record["attestationOfConformance"] = [attestation]
    return record
