"""Imported background databases: their identity, and the background datasets a park drew on.

``footprint background import`` (exchange/background) records each database's identity in its
Brightway metadata; calculation bundles copy it and ``recompute`` compares it, so a result can be
reproduced only on the very same source data. The datasets a product used, with the publication
they come from, are what the review report and the certificate name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable

import bw2data as bd

from footprint.engine.inventory import Exchange, Foreground
from footprint.park.models import BackgroundDataset

IDENTITY = "footprint_import"
IDENTITY_FIELDS = ("format", "source_sha256", "options", "footprint")  # what must match to reproduce


def record_identity(name: str, identity: dict) -> None:
    """Store an import's identity (format, source, source_sha256, options, footprint, publication)."""
    bd.databases[name][IDENTITY] = identity
    bd.databases[name]["version"] = f"{identity['format']} sha256:{identity['source_sha256'][:12]} " \
                                    f"({identity['footprint']})"
    bd.databases.flush()


def identity(name: str) -> dict | None:
    """The recorded identity of an imported database, or None for any other database."""
    return bd.databases[name].get(IDENTITY) if name in bd.databases else None


def differences(recorded: dict, present: dict | None) -> list[str]:
    """What differs between a recorded identity and the one present (empty when they match)."""
    if present is None:
        return ["not imported in this data directory"]
    return [f"{k}: recorded {recorded.get(k)!r}, here {present.get(k)!r}" for k in IDENTITY_FIELDS
            if recorded.get(k) != present.get(k)]


def through_suppliers(fg: Foreground, upstream: dict[str, set[str]], pick: Callable[[Exchange], Hashable | None]
                      ) -> dict[str, set]:
    """Per product, what ``pick`` takes from its own exchanges and, through park suppliers and loops, from
    theirs (None: nothing); ``upstream`` holds each product and every park product in its supply chain."""
    own: dict[str, set] = {p: set() for p in upstream}
    for e in fg.exchanges:
        if not e.supplier and (item := pick(e)) is not None:
            own[e.product_id].add(item)
    return {p: set().union(*(own[q] for q in chain)) for p, chain in upstream.items()}


def background_datasets(fg: Foreground, upstream: dict[str, set[str]]) -> dict[str, list[BackgroundDataset]]:
    """Per product, the background activities its supply chain draws on directly (through park
    suppliers and loops), each with the publication it comes from."""
    used = through_suppliers(fg, upstream,
                             lambda e: e.target if e.kind == "technosphere" and e.target[0] != fg.database else None)
    identities = {db: identity(db) for db in {k[0] for keys in used.values() for k in keys}}
    described = {key: _describe(fg, key, identities[key[0]]) for key in set().union(*used.values())}
    return {p: [described[k] for k in sorted(keys)] for p, keys in used.items()}


def _describe(fg: Foreground, key: tuple[str, str], ident: dict | None) -> BackgroundDataset:
    """One dataset with its publication, from what linking read (no query per dataset), built without validation
    (its fields are strings read from the database) as ``model_construct`` does, in a fraction of its time."""
    target = fg.targets[key]
    publication = ident["publication"] if ident else target.source or key[0]
    d = object.__new__(BackgroundDataset)
    object.__setattr__(d, "__dict__", {"database": key[0], "code": key[1], "name": target.name, "unit": target.unit,
                                       "location": target.location, "publication": publication})
    object.__setattr__(d, "__pydantic_fields_set__", set(_DATASET_FIELDS))
    object.__setattr__(d, "__pydantic_extra__", None)
    object.__setattr__(d, "__pydantic_private__", None)
    return d


_DATASET_FIELDS = ("database", "code", "name", "unit", "location", "publication")


def recorded_identities(databases_json: dict) -> dict[str, dict]:
    """name → identity of each imported database a bundle's ``background/databases.json`` records."""
    if not isinstance(databases_json, dict):
        raise ValueError("background/databases.json: expected an object of database names")
    return {name: entry["identity"] for name, entry in databases_json.items()
            if isinstance(entry, dict) and isinstance(entry.get("identity"), dict)}


def check_identities(recorded: dict[str, dict]) -> None:
    """Refuse to reproduce on background data other than the bundle's: every imported database it
    used must be here with the same source SHA-256, format, options and footprint version."""
    problems = [f"{name}: {d}" for name, ident in sorted(recorded.items()) for d in differences(ident, identity(name))]
    if problems:
        raise ValueError("the background databases here are not the ones the bundle was computed on — "
                         + "; ".join(problems) + ". Import the same source with `footprint background import` "
                         "(same file, format and options) and the same footprint version.")


def export_database(name: str) -> bytes:
    """An imported database as JSON (activities with their exchanges, and its identity), so a fresh
    data directory can hold exactly the same data: what ``recompute`` hands its child process."""
    datasets = [{**data, "exchanges": data.get("exchanges", [])} for data in bd.Database(name).load().values()]
    return json.dumps({"name": name, "identity": identity(name), "datasets": datasets}, sort_keys=True).encode()


def load_database(data: bytes) -> str:
    """Write a database exported by :func:`export_database` into this data directory."""
    payload = json.loads(data)
    name = payload["name"]
    for ds in payload["datasets"]:
        for e in ds["exchanges"]:
            e["input"], e["output"] = tuple(e["input"]), tuple(e.get("output") or (name, ds["code"]))
    db = bd.Database(name)
    db.register()
    db.write({(name, ds["code"]): ds for ds in payload["datasets"]})
    record_identity(name, payload["identity"])
    return name
