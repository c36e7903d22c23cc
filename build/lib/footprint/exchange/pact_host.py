"""What a PACT v3 host serves: the registry's footprints, the spec's filters, and event replies.

The footprints are the ProductFootprints embedded in the issued certificates, as issued, except
``status`` (``certificates.pact.registry_footprint``: Active while the certificate is active, else
Deprecated).

Filters follow the spec's ListFootprints rules: several values of one criterion are OR, different
criteria AND; ids, geographies, classifications and the status match case-insensitively; a value
that matches nothing gives an empty list, never an error. Only malformed input (a date that is not
a date, a criterion that is not a list of strings) is refused, with a message saying what was
expected.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES = {
    "created": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
    "fulfilled": "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",
    "rejected": "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3",
    "published": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
}
LIST_CRITERIA = ("productId", "companyId", "geography", "classification")
TIME_CRITERIA = ("validOn", "validAfter", "validBefore")
CRITERIA = (*LIST_CRITERIA, *TIME_CRITERIA, "status")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_VALUES = 100  # values of one criterion: more is refused rather than scanned


class BadRequest(ValueError):
    """Input a PACT host must refuse with 400 BadRequest; the message says what was expected."""


def parse_time(text: str, name: str) -> dt.datetime:
    """An RFC 3339 date-time (seconds optional; a bare date is midnight UTC; no offset means UTC)."""
    if not isinstance(text, str):
        raise BadRequest(f"{name}: expected an RFC 3339 date-time string, got {type(text).__name__}")
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise BadRequest(f"{name}: {text[:64]!r} is not an RFC 3339 date-time (e.g. 2026-01-01T00:00:00Z)") from None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


@dataclass(frozen=True)
class Criteria:
    """The filters of ListFootprints and of a RequestCreatedEvent (empty tuples: not given)."""

    product_ids: tuple[str, ...] = ()
    company_ids: tuple[str, ...] = ()
    geographies: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    valid_on: dt.datetime | None = None
    valid_after: dt.datetime | None = None
    valid_before: dt.datetime | None = None
    statuses: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self == Criteria()

    @classmethod
    def parse(cls, values: Mapping[str, Iterable[str] | str]) -> Criteria:
        """From criterion name → value(s); names as the spec spells them (callers fold case for queries)."""
        def many(name: str) -> tuple[str, ...]:
            raw = values.get(name)
            if raw is None:
                return ()
            items = [raw] if isinstance(raw, str) else raw
            if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
                raise BadRequest(f"{name}: expected a list of strings")
            if len(items) > MAX_VALUES:
                raise BadRequest(f"{name}: at most {MAX_VALUES} values")
            return tuple(v.strip().lower() for v in items)

        def one_time(name: str) -> dt.datetime | None:
            raw = values.get(name)
            if raw is None:
                return None
            if not isinstance(raw, str):
                items = list(raw) if isinstance(raw, list | tuple) else [raw]
                if len(items) != 1:
                    raise BadRequest(f"{name}: expected one date-time, got {len(items)}")
                raw = items[0]
            return parse_time(raw, name)  # type: ignore[arg-type]

        return cls(product_ids=many("productId"), company_ids=many("companyId"), geographies=many("geography"),
                   classifications=many("classification"), valid_on=one_time("validOn"),
                   valid_after=one_time("validAfter"), valid_before=one_time("validBefore"),
                   statuses=many("status"))

    def matches(self, footprint: Mapping[str, Any]) -> bool:
        """Every given criterion matches at least one of its values (the spec's AND of ORs)."""
        def lower(items: object) -> set[str]:
            return {v.lower() for v in items if isinstance(v, str)} if isinstance(items, list) else set()

        if self.product_ids and not lower(footprint.get("productIds")) & set(self.product_ids):
            return False
        if self.company_ids and not lower(footprint.get("companyIds")) & set(self.company_ids):
            return False
        if self.classifications and not lower(footprint.get("productClassifications")) & set(self.classifications):
            return False
        if self.geographies and not geographies(footprint) & set(self.geographies):
            return False
        if self.statuses and str(footprint.get("status", "")).lower() not in self.statuses:
            return False
        if self.valid_on or self.valid_after or self.valid_before:
            start, end = validity(footprint)
            if self.valid_on and not (start <= self.valid_on <= end):
                return False
            if self.valid_after and not start > self.valid_after:
                return False
            if self.valid_before and not end < self.valid_before:
                return False
        return True


def geographies(footprint: Mapping[str, Any]) -> set[str]:
    """Lower-cased geographies a footprint lies in: its region, country, subdivision and that one's country."""
    pcf = footprint.get("pcf") or {}
    found = {str(pcf[k]).lower() for k in ("geographyRegionOrSubregion", "geographyCountry",
                                           "geographyCountrySubdivision") if pcf.get(k)}
    sub = pcf.get("geographyCountrySubdivision")
    if isinstance(sub, str) and "-" in sub:  # ISO 3166-2: CN-JS lies in CN
        found.add(sub.split("-", 1)[0].lower())
    return found


def validity(footprint: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """The validity period; without one, PACT's default of 3 years from the reference period's end."""
    start, end = footprint.get("validityPeriodStart"), footprint.get("validityPeriodEnd")
    if start and end:
        return parse_time(start, "validityPeriodStart"), parse_time(end, "validityPeriodEnd")
    ref_end = parse_time((footprint.get("pcf") or {})["referencePeriodEnd"], "referencePeriodEnd")
    try:
        later = ref_end.replace(year=ref_end.year + 3)
    except ValueError:  # 29 February
        later = ref_end.replace(year=ref_end.year + 3, day=28)
    return ref_end, later


# ---- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A CloudEvent received on /3/events, checked against the PACT v3 event it claims to be."""

    kind: str  # created, fulfilled, rejected, published
    id: str
    source: str
    time: dt.datetime
    data: dict[str, Any]
    criteria: Criteria | None = None


def parse_event(body: object) -> Event:
    """Check a structured-mode CloudEvent; :class:`BadRequest` names the first thing wrong."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object (a CloudEvent in structured content mode)")
    for name in ("type", "specversion", "id", "source", "time"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise BadRequest(f"{name}: required, a non-empty string")
    if body["specversion"] != "1.0":
        raise BadRequest(f"specversion: expected '1.0' (CloudEvents 1.0), got {body['specversion'][:32]!r}")
    kinds = {v: k for k, v in EVENT_TYPES.items()}
    if body["type"] not in kinds:
        raise BadRequest(f"type: {body['type'][:128]!r} is not a PACT v3 event type "
                         f"({', '.join(EVENT_TYPES.values())})")
    if len(body["id"].encode()) > 256 or len(body["source"].encode()) > 1024:
        raise BadRequest("id (256 bytes) or source (1024 bytes) too long")
    data = body.get("data")
    if not isinstance(data, dict):
        raise BadRequest("data: required, a JSON object")
    kind = kinds[body["type"]]
    time = parse_time(body["time"], "time")
    criteria = None
    if kind == "created":
        unknown = sorted(set(data) - {*CRITERIA, "comment"})
        if unknown:
            raise BadRequest(f"data: unknown criteria {', '.join(unknown)} (known: {', '.join(CRITERIA)}, comment)")
        for name in LIST_CRITERIA:
            if name in data and not isinstance(data[name], list):
                raise BadRequest(f"data.{name}: expected a list of strings")
        if "status" in data and data["status"] not in ("Active", "Deprecated"):
            raise BadRequest("data.status: expected 'Active' or 'Deprecated'")
        if "comment" in data and not isinstance(data["comment"], str):
            raise BadRequest("data.comment: expected a string")
        criteria = Criteria.parse({k: v for k, v in data.items() if k != "comment"})
        if criteria.empty:
            raise BadRequest("data: a request needs at least one criterion (productId, companyId, geography, ...)")
    elif kind == "published":
        ids = data.get("pfIds")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and _UUID.match(i) for i in ids):
            raise BadRequest("data.pfIds: expected a non-empty list of ProductFootprint ids (UUIDs)")
    elif kind == "fulfilled":
        if not isinstance(data.get("requestEventId"), str) or not isinstance(data.get("pfs"), list) \
                or not data["pfs"] or not all(isinstance(p, dict) for p in data["pfs"]):
            raise BadRequest("data: expected requestEventId (string) and pfs (a non-empty list of ProductFootprints)")
    else:  # rejected
        error = data.get("error")
        if not isinstance(data.get("requestEventId"), str) or not isinstance(error, dict) \
                or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
            raise BadRequest("data: expected requestEventId (string) and error {code, message}")
    return Event(kind, body["id"], body["source"], time, data, criteria)


def reply(request_id: str, criteria: Criteria, footprints: Iterable[Mapping[str, Any]], source: str,
          now: dt.datetime | None = None) -> dict[str, Any]:
    """The answer to a RequestCreatedEvent: fulfilled with every match, else rejected (NotFound)."""
    matches = [dict(f) for f in footprints if criteria.matches(f)]
    envelope = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
                "time": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")}
    if matches:
        return {**envelope, "type": EVENT_TYPES["fulfilled"], "data": {"requestEventId": request_id, "pfs": matches}}
    return {**envelope, "type": EVENT_TYPES["rejected"], "data": {"requestEventId": request_id, "error": {
        "code": "NotFound", "message": "No product footprint of this host matches the request's criteria."}}}
