"""Validated park → per-unit foreground exchanges → the park's Brightway database (DESIGN §3).

Every exchange keeps the input/emission rows it came from, so contributions trace back to
rows. Links to background databases and biosphere3 are resolved (and located errors raised)
before anything is written; a write that fails part-way restores the previous database.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field

import bw2data as bd
import numpy as np
from bw2data.backends import SQLiteBackend
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from footprint.engine import electricity
from footprint.engine.background import CATEGORY_OF_FACTOR, activity_rows, co2e_exchanges, flow_codes
from footprint.park import units
from footprint.park.errors import ParkDataError, Problem
from footprint.park.flows import ALIASES, BIOSPHERE_PREFIX
from footprint.park.loading import transport_tkm
from footprint.park.models import INPUT_CATEGORIES, Allocation, Exclusion, Facility, Input, Output, ParkData

Key = tuple[str, str]


@dataclass
class Target:
    """Something an exchange points to: a park product, a park factor or a background activity."""

    key: Key
    name: str
    unit: str
    category: str
    dqr: int | None = None
    source: str | None = None
    gsd: float | None = None
    boundary: str = "cradle-to-gate"
    gwp_sets: tuple[str, ...] = ("AR6",)  # GWP sets its value rests on (AR6: flows characterised by the method)
    data_type: str = "secondary"  # primary: a supplier-specific PCF
    pds: float | None = None
    ter: int | None = None
    ger: int | None = None
    tir: int | None = None
    gases: bool = False  # has elementary-flow exchanges (e.g. the combustion gases of a fuel row)
    node: int | None = None  # Brightway node id of a background activity
    location: str = ""


@dataclass
class Exchange:
    """One per-unit exchange of a product, after allocation and unit conversion."""

    product_id: str
    kind: str  # technosphere | biosphere
    target: Key
    amount: float
    unit: str
    category: str
    data_type: str
    rows: list[str]
    label: str
    supplier: str | None = None  # park product id when the target is a park product
    note: tuple = ("",)  # how the amount came about: a format, then its values (see ``conversion``)
    flow: str | None = None  # the emission row's flow, for direct emissions
    gsd: float | None = None  # the row's stated geometric standard deviation (not for its transport leg)
    leg: bool = False  # the transport leg of an input row (data_type is then its transport_data_type)

    @property
    def conversion(self) -> str:
        """How the per-unit amount came about, e.g. "12 t × 1000 kg/t × share / 5000 kg" (formatted when asked
        for: only the review shows it, and formatting every exchange's numbers was a tenth of linking a park)."""
        return self.note[0].format(*self.note[1:])


@dataclass
class Foreground:
    database: str
    park: ParkData
    allocations: dict[str, Allocation]
    exchanges: list[Exchange]
    targets: dict[Key, Target]
    datasets: list[dict] = field(default_factory=list)
    # exclusions.csv rows per product, with kg CO2e per declared unit after allocation
    exempted: dict[str, list[tuple[Exclusion, float]]] = field(default_factory=dict)
    # format 2: the other electricity method's grid exchanges, and the park method's ones they replace,
    # as (product, target, per-unit amount, sign)
    alternative: list[tuple[str, Key, float, int]] = field(default_factory=list)
    electricity_method: str | None = None  # None for format-1 parks (grid rows at their own factors)
    digest: str | None = None  # content_hash(), once computed


def database_name(park_id: str) -> str:
    return f"park:{park_id}"


def _category_from_unit(unit: str) -> str:
    dim = units.dimension(unit)
    if dim == "energy":
        return "electricity" if unit in ("kWh", "MWh") else "heat and steam"
    return "transport" if dim == "freight" else "materials"


def _shares(facility: Facility, outs: list[Output], problems: list[Problem]) -> dict[str, Allocation]:
    """Allocation shares of a facility's products; a waste output gets none (DESIGN §2 v2)."""
    waste = {o.product_id: Allocation(basis="waste (cut-off)", share=0.0) for o in outs if o.kind == "waste"}
    outs = [o for o in outs if o.kind == "product"]
    return waste | _product_shares(facility, outs, problems)


def _product_shares(facility: Facility, outs: list[Output], problems: list[Problem]) -> dict[str, Allocation]:
    if len(outs) == 1:
        return {outs[0].product_id: Allocation(basis="single output", share=1.0)}
    alloc = facility.allocation or ""
    if alloc == "mass":
        weights = [o.amount * o.mass_kg for o in outs]
    elif alloc == "economic":
        weights = [o.amount * o.price for o in outs]
    else:
        column = alloc.removeprefix("physical:")
        weights = [o.amount * o.physical[column] for o in outs]
    total = sum(weights)
    if total <= 0:
        problems.append(Problem(facility.origin.file, facility.origin.row, "allocation", alloc,
                                "the allocation values of this facility's outputs sum to zero"))
        return {o.product_id: Allocation(basis=alloc, share=0.0) for o in outs}
    return {o.product_id: Allocation(basis=alloc, share=w / total) for o, w in zip(outs, weights)}


class _Resolver:
    """Resolves refs to targets, collecting located problems."""

    def __init__(self, park: ParkData, db: str, extra_refs: tuple[str, ...] = ()):
        self.park, self.db = park, db
        self.problems: list[Problem] = []
        self.targets: dict[Key, Target] = {}
        self._found: dict[str, Target] = {}  # refs resolved so far
        for o in park.outputs:
            self.targets[(db, o.product_id)] = Target((db, o.product_id), o.name, o.unit, _category_from_unit(o.unit))
        for f in park.factors:
            cat = CATEGORY_OF_FACTOR[f.category] if f.category else _category_from_unit(f.unit)
            self.targets[(db, f"factor:{f.code}")] = Target((db, f"factor:{f.code}"), f.name, f.unit, cat, f.dqr,
                                                            f.source, f.gsd, f.boundary, (f.gwp,), f.data_type, f.pds,
                                                            f.ter, f.ger, f.tir)
        self._load_background(extra_refs)

    def _bg_key(self, ref: str) -> Key:
        parts = ref.split(":")
        return (self.park.park.background, parts[1]) if len(parts) == 2 else (parts[1], parts[2])

    def _load_background(self, extra_refs: tuple[str, ...]) -> None:

        wanted: dict[str, set[str]] = defaultdict(set)
        refs = dict.fromkeys([r for i in self.park.inputs for r in (i.ref, i.transport_ref)] + list(extra_refs))
        for ref in refs:  # each distinct ref once, in the order first named
            if ref and ref.startswith("bg:"):
                db, code = self._bg_key(ref)
                wanted[db].add(code)
        for db, codes in wanted.items():
            if db not in bd.databases:
                continue
            for code, name, data, node in activity_rows(("code", "name", "data", "id"), db, sorted(codes)):
                unit = units.from_brightway(data.get("unit", ""))
                category = CATEGORY_OF_FACTOR.get(data.get("category", ""))
                if unit and not category:
                    category = _category_from_unit(unit)
                self.targets[(db, code)] = _background_target((db, code), name, unit or data.get("unit", "?"),
                                                              category or "materials", data, node)

    def resolve(self, i: Input, column: str) -> Target | None:
        ref = i.ref if column == "ref" else i.transport_ref
        return self._found.get(ref) or self.lookup(ref, (i.origin.file, i.origin.row, column))

    def lookup(self, ref: str, where: tuple[str, int | None, str]) -> Target | None:
        """The target of a ref; a located problem at ``where`` (file, row, column) if there is none."""
        if ref.startswith("bg:"):
            key = self._bg_key(ref)
            if key[0] not in bd.databases:
                known = ", ".join(sorted(d for d in bd.databases if not d.startswith("park:")))
                self.problems.append(Problem(*where, ref, f"unknown background database {key[0]!r}; the project "
                                                          f"has: {known}"))
                return None
        else:
            key = (self.db, ref)
        target = self.targets.get(key)
        if target is None:
            self.problems.append(Problem(*where, ref, f"no activity with code {key[1]!r} in database {key[0]!r}"))
            return None
        if not units.is_known(target.unit):
            self.problems.append(Problem(*where, ref, f"the activity's unit {target.unit!r} is not one footprint "
                                                      "can convert"))
            return None
        self._found[ref] = target  # a park's rows name the same few refs again and again
        return target

    def problem(self, i: Input, column: str, value: str, expected: str) -> None:
        self.problems.append(Problem(i.origin.file, i.origin.row, column, value, expected))


def _background_target(key: Key, name: str, unit: str, category: str, data: dict, node: int) -> Target:
    """A background activity as a target. Without a ``gwp`` (an imported database) its value comes from
    elementary flows characterised by the project's IPCC 2021 method: AR6."""
    gwp = data.get("gwp")
    sets = ("AR6",) if gwp is None else tuple(dict.fromkeys((gwp, *(("AR6",) if data.get("gases") else ()))))
    return Target(key, name, unit, category, data.get("dqr"), data.get("source"), None,
                  data.get("boundary", "cradle-to-gate"), sets, data.get("data_type", "secondary"), data.get("pds"),
                  data.get("ter"), data.get("ger"), data.get("tir"), bool(data.get("gases", gwp is None)), node,
                  data.get("geography") or data.get("location") or "")


def _emission_flow(flow: str, bio: dict, known_codes: set[str]) -> str | None:
    if flow in ALIASES:
        return bio.get(flow)
    code = flow.removeprefix(BIOSPHERE_PREFIX)
    return code if code in known_codes else None


def build_foreground(park: ParkData) -> Foreground:
    """Per-unit exchanges of every park product; raises ParkDataError on unresolvable links."""
    db = database_name(park.park.id)
    v2 = park.park.version >= 2
    res = _Resolver(park, db, electricity.candidate_refs(park) if v2 else ())
    products = {o.product_id: o for o in park.outputs}
    outputs_of: dict[str, list[Output]] = defaultdict(list)
    for o in park.outputs:
        outputs_of[o.facility_id].append(o)
    allocations: dict[str, Allocation] = {}
    for f in park.facilities:
        allocations.update(_shares(f, outputs_of[f.facility_id], res.problems))
    producing = {fid: [o for o in outs if o.kind == "product"] for fid, outs in outputs_of.items()}

    resolved: list[tuple[Input, Target, Target | None]] = []
    for i in park.inputs:
        target = res.resolve(i, "ref")
        if target is None:
            continue
        if units.dimension(i.unit) != units.dimension(target.unit):
            res.problem(i, "unit", i.unit, f"{i.ref} is measured in {target.unit} ({units.dimension(target.unit)}); "
                                            "expected a unit of that dimension")
            continue
        transport = res.resolve(i, "transport_ref") if i.transport_ref else None
        if i.transport_ref and (transport is None or units.dimension(transport.unit) != "freight"):
            if transport is not None:
                res.problem(i, "transport_ref", i.transport_ref, f"activity is per {transport.unit}; expected tkm")
            continue
        resolved.append((i, target, transport))

    plan = None
    if v2:
        grid = [i for i, t, _ in resolved  # not a park product, not a supplier's own PCF (a PPA, a direct line)
                if i.ref not in products and t.data_type != "primary" and _category(i, t) == "electricity"]
        plan = electricity.plan(park, grid)
        res.problems += plan.problems
    splits: dict[str, Target] = {}
    for ref in sorted(plan.refs()) if plan and not plan.problems else ():
        target = res.lookup(ref, plan.origins[ref])
        if target is not None and units.dimension(target.unit) != "energy":
            res.problems.append(Problem(*plan.origins[ref], ref, f"activity is per {target.unit}; expected an "
                                                                 "electricity activity per kWh or MWh"))
        elif target is not None:
            splits[ref] = target

    exchanges: list[Exchange] = []
    alternative: list[tuple[str, Key, float, int]] = []
    for i, target, transport in resolved:
        conv = units.factor(i.unit, target.unit)
        supplier = i.ref if i.ref in products else None
        category = _category(i, target)
        split = plan.splits.get(i.origin.label) if plan and len(splits) == len(plan.refs()) else None
        tkm = transport_tkm(i, products) if transport else 0.0
        for o in producing.get(i.facility_id, []):
            per_unit = allocations[o.product_id].share / o.amount
            if split:
                for method, sign in ((plan.method, -1), (electricity.other(plan.method), 1)):
                    for ref, fraction in split[method]:
                        t = splits[ref]
                        amount = i.amount * units.factor(i.unit, t.unit) * fraction * per_unit
                        alternative.append((o.product_id, t.key, amount, sign))
                        if sign < 0:
                            exchanges.append(Exchange(
                                o.product_id, "technosphere", t.key, amount, t.unit, category, i.data_type,
                                [i.origin.label], t.name, None,
                                ("{:g} {} × {:.6g} ({}) × share / {:g} {}", i.amount, i.unit, fraction, method,
                                 o.amount, o.unit), gsd=i.gsd))
            else:
                note = ("{:g} {} × {:g} {}/{} × share / {:g} {}", i.amount, i.unit, conv, target.unit, i.unit,
                        o.amount, o.unit)
                exchanges.append(Exchange(o.product_id, "technosphere", target.key, i.amount * conv * per_unit,
                                          target.unit, category, i.data_type, [i.origin.label], target.name,
                                          supplier, note, gsd=i.gsd))
            if transport:
                exchanges.append(Exchange(
                    o.product_id, "technosphere", transport.key, tkm * per_unit, "tkm",
                    "transport", i.transport_data_type, [i.origin.label], f"{transport.name} ({target.name})", None,
                    ("{:g} tkm ({:g} km) × share / {:g} {}", tkm, i.distance_km, o.amount, o.unit), leg=True))

    named = flow_codes(list(ALIASES.values()))
    bio = {alias: named.get(spec) for alias, spec in ALIASES.items()}
    custom = {e.flow.removeprefix(BIOSPHERE_PREFIX) for e in park.emissions if e.flow.startswith(BIOSPHERE_PREFIX)}
    known = set(_existing_codes("biosphere3", custom))
    for e in park.emissions:
        code = _emission_flow(e.flow, bio, known)
        if code is None:
            res.problems.append(Problem(e.origin.file, e.origin.row, "flow", e.flow, "no such flow in biosphere3"))
            continue
        kg = e.amount * units.factor(e.unit, "kg")
        for o in producing.get(e.facility_id, []):
            per_unit = allocations[o.product_id].share / o.amount
            exchanges.append(Exchange(o.product_id, "biosphere", ("biosphere3", code), kg * per_unit, "kg",
                                      "direct emissions", "primary", [e.origin.label], f"{e.flow} ({e.kind})", None,
                                      ("{:g} kg × share / {:g} {}", kg, o.amount, o.unit), e.flow, e.gsd))
    exempted: dict[str, list[tuple[Exclusion, float]]] = defaultdict(list)
    for x in park.exclusions:
        for o in producing.get(x.facility_id, []):
            exempted[o.product_id].append((x, x.estimate * allocations[o.product_id].share / o.amount))
    if res.problems:
        raise ParkDataError(res.problems)
    fg = Foreground(db, park, allocations, exchanges, res.targets, exempted=dict(exempted), alternative=alternative,
                    electricity_method=plan.method if plan else None)
    _check_solvable(fg)
    fg.datasets = _datasets(fg)
    return fg


def _category(i: Input, target: Target) -> str:
    """The contribution category of an input row: its own (format 2) or its item's."""
    return INPUT_CATEGORIES[i.category] if i.category else target.category


def _existing_codes(database: str, codes: set[str]) -> list[str]:
    from bw2data.backends import ActivityDataset as AD

    if not codes:
        return []
    return [r.code for r in AD.select(AD.code).where((AD.database == database) & AD.code.in_(sorted(codes)))]


def _check_solvable(fg: Foreground) -> None:
    """Refuse intra-park loops that consume all of their own output (a singular system)."""
    ids = [o.product_id for o in fg.park.outputs]
    index = {p: n for n, p in enumerate(ids)}
    rows, cols, vals = [], [], []
    for e in fg.exchanges:
        if e.supplier is not None:
            rows.append(index[e.supplier])
            cols.append(index[e.product_id])
            vals.append(e.amount)
    use = csr_matrix((vals, (rows, cols)), shape=(len(ids), len(ids)))
    n_comp, labels = connected_components(use, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=n_comp)
    self_use = use.diagonal()
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for comp in range(n_comp):
        members = order[starts[comp]:starts[comp + 1]]
        if len(members) == 1 and self_use[members[0]] == 0:
            continue  # a product outside every loop
        sub = use[members][:, members].toarray()
        matrix = np.eye(len(members)) - sub
        if np.linalg.cond(matrix) > 1e12:
            names = ", ".join(ids[m] for m in members)
            first = fg.park.outputs[members[0]].origin
            raise ParkDataError([Problem(first.file, first.row, "product_id", names,
                                         f"the intra-park loop of {names} consumes all of its own output, so its "
                                         "footprint has no solution; reduce the self-use below the output")])


def _datasets(fg: Foreground) -> list[dict]:
    park = fg.park
    location = park.park.region or park.park.country
    by_product: dict[str, list[Exchange]] = defaultdict(list)
    for e in fg.exchanges:
        by_product[e.product_id].append(e)
    datasets = []
    facilities = {f.facility_id: f for f in park.facilities}
    for o in park.outputs:
        f = facilities[o.facility_id]
        # one Brightway exchange per target: the matrix sums them anyway, and 200,000 input rows
        # would otherwise be 200,000 database rows (footprint keeps each row's exchange in fg.exchanges)
        merged: dict[tuple[Key, str], dict] = {}
        for e in by_product[o.product_id]:
            m = merged.setdefault((e.target, e.kind), {"input": e.target, "amount": 0.0, "type": e.kind, "rows": []})
            m["amount"] += e.amount
            m["rows"] += e.rows
        exchanges = [{"input": (fg.database, o.product_id), "amount": 1.0, "type": "production"}, *merged.values()]
        datasets.append({
            "database": fg.database, "code": o.product_id, "name": o.name, "reference product": o.name,
            "unit": units.PARK_TO_BRIGHTWAY[o.unit], "location": location, "type": "process",
            "facility": f.facility_id, "enterprise": f.enterprise, "origin": o.origin.label,
            "allocation": fg.allocations[o.product_id].model_dump(), "exchanges": exchanges,
        })
    for f in park.factors:
        code = f"factor:{f.code}"
        datasets.append({
            "database": fg.database, "code": code, "name": f.name, "reference product": f.name,
            "unit": units.PARK_TO_BRIGHTWAY[f.unit], "location": location, "type": "process", "source": f.source,
            "dqr": f.dqr, "origin": f.origin.label,
            "exchanges": [{"input": (fg.database, code), "amount": 1.0, "type": "production"}]
            + co2e_exchanges({"fossil": f.fossil, "biogenic": f.biogenic, "luc": f.luc}),
        })
    return datasets


def content_hash(fg: Foreground) -> str:
    """SHA-256 of the park database's datasets: its version label ``sha256:<first 12>``, and what decides
    whether the data directory's copy must be rewritten."""
    if fg.digest is None:
        fg.digest = hashlib.sha256(json.dumps(fg.datasets, sort_keys=True, default=list).encode()).hexdigest()
    return fg.digest


def dependencies(fg: Foreground) -> set[str]:
    """The databases the park database links to (what Brightway records as its ``depends``)."""
    return {e["input"][0] for d in fg.datasets for e in d["exchanges"]} - {fg.database}


WRITTEN = "footprint_written"  # metadata of a written park database: its content hash and its background's state


class _ParkDatabase(SQLiteBackend):
    """A park database written with the project's indexes in place: bw2data drops and rebuilds its three
    indexes over every exchange of the project whenever 100 or more activities are written (0.5 s on a
    280,000-exchange background, whatever the park's size), and a park's rows insert fast enough with them."""

    def _efficient_write_many_data(self, data: list, indices: bool = True, check_typos: bool = True) -> None:
        super()._efficient_write_many_data(data, indices=False, check_typos=check_typos)


def write_foreground(fg: Foreground) -> bool:
    """Write the park's database — for Activity Browser, bw2calc and the review — unless the data directory
    holds it with the same content on the same background; True when written. If writing fails, put the
    previous database back and re-raise."""
    from footprint.engine.background_footprints import closure, signature

    digest = content_hash(fg)
    background = hashlib.sha256(repr(signature(closure(dependencies(fg)))).encode()).hexdigest()[:16]
    state = {"sha256": digest, "background": background}
    if fg.database in bd.databases and bd.databases[fg.database].get(WRITTEN) == state:
        return False
    db = _ParkDatabase(fg.database)
    previous = db.load() if fg.database in bd.databases else None
    try:
        db.write({(d["database"], d["code"]): d for d in fg.datasets})
        bd.databases[fg.database]["version"] = f"sha256:{digest[:12]}"
        bd.databases[fg.database][WRITTEN] = state
        bd.databases.flush()
    except BaseException:
        if previous is None:
            if fg.database in bd.databases:
                del bd.databases[fg.database]
        else:
            _ParkDatabase(fg.database).write(previous)
        raise
    return True
