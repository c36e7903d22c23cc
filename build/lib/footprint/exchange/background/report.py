"""The link report of a background import: what was written, linked, mapped, dropped and why.

Nothing an importer leaves out may go unmentioned: every technosphere exchange is either linked or
counted under a reason, every elementary flow is mapped or counted, every greenhouse gas that was
dropped is named with its share of the reference results, and every multi-output dataset is listed
with the rule that made it single-output.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field, fields

FORMAT = "footprint-link-report/1"
EXAMPLES = 8  # names shown per reason in the text report (the JSON keeps them all)


@dataclass
class MultiOutput:
    """How one multi-output dataset was made single-output."""

    dataset: str
    name: str
    rule: str
    products: list[tuple[str, str, float]]  # (activity code, product name, share of the burden)
    cut_off: list[tuple[str, float, str]]  # (output name, amount, unit): outputs that carry no burden


@dataclass
class ReferenceResult:
    """A dataset's footprint after import, and what the dropped greenhouse gases would have added."""

    code: str
    name: str
    unit: str
    kg_co2e: float
    dropped_kg_co2e: float

    @property
    def dropped_share(self) -> float:
        whole = self.kg_co2e + self.dropped_kg_co2e
        return self.dropped_kg_co2e / whole if whole else 0.0


@dataclass
class LinkReport:
    database: str
    format: str
    source: str
    source_sha256: str
    options: dict
    footprint: str
    datasets_read: int = 0
    datasets_written: int = 0
    technosphere_linked: int = 0
    technosphere_converted: int = 0  # linked with a unit conversion
    conversions: Counter = field(default_factory=Counter)  # "MJ -> kWh" → count
    unlinked: dict[str, Counter] = field(default_factory=dict)  # reason → Counter of flow names
    ambiguous: list[dict] = field(default_factory=list)  # flows several datasets supply, and the choice
    elementary_mapped: int = 0
    elementary_unmapped: Counter = field(default_factory=Counter)  # "name (compartment)" → exchanges
    ghg_mapped: dict[str, Counter] = field(default_factory=dict)  # biosphere3 name → Counter of source names
    ghg_dropped: dict[str, dict] = field(default_factory=dict)  # source name → {exchanges, reason, factor}
    multi_output: list[MultiOutput] = field(default_factory=list)
    references: list[ReferenceResult] = field(default_factory=list)
    dropped_overall: dict = field(default_factory=dict)  # the dropped gases' largest share over all datasets
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def unlink(self, reason: str, name: str) -> None:
        self.unlinked.setdefault(reason, Counter())[name] += 1

    @property
    def technosphere_unlinked(self) -> int:
        return sum(sum(c.values()) for c in self.unlinked.values())

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self)}  # asdict() would garble Counters
        data["format"] = FORMAT
        data["multi_output"] = [asdict(m) for m in self.multi_output]
        data["technosphere_unlinked"] = self.technosphere_unlinked
        data["references"] = [{**asdict(r), "dropped_share": r.dropped_share} for r in self.references]
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def to_text(self) -> str:
        out = [f"Link report: {self.database} ({self.format}) from {self.source}",
               f"  source SHA-256 {self.source_sha256}; {self.footprint}; "
               f"options {json.dumps(self.options, sort_keys=True)}",
               f"Datasets: {self.datasets_read} read, {self.datasets_written} activities written"]
        total = self.technosphere_linked + self.technosphere_unlinked
        out.append(f"Technosphere exchanges: {total}; linked {self.technosphere_linked} "
                   f"({self.technosphere_converted} with a unit conversion), unlinked {self.technosphere_unlinked}")
        for pair, n in sorted(self.conversions.items()):
            out.append(f"  converted {pair}: {n}")
        for reason, names in sorted(self.unlinked.items()):
            out.append(f"  unlinked, {reason}: {sum(names.values())} exchanges of {len(names)} flows")
            out += [f"    {n} × {name}" for name, n in names.most_common(EXAMPLES)]
            if len(names) > EXAMPLES:
                out.append(f"    … {len(names) - EXAMPLES} more flows in the JSON report")
        for a in self.ambiguous:
            out.append(f"  {a['flow']!r} is supplied by {a['candidates']} datasets; {a['exchanges']} exchanges "
                       f"linked to {a['chosen']} (rule in the notes)")
        unmapped = sum(self.elementary_unmapped.values())
        out.append(f"Elementary exchanges: {self.elementary_mapped + unmapped}; mapped to biosphere3 "
                   f"{self.elementary_mapped}, not mapped {unmapped} ({len(self.elementary_unmapped)} flows; "
                   "none is a greenhouse gas with an IPCC 2021 factor unless listed as dropped below)")
        out.append("Greenhouse gases mapped to biosphere3:")
        for target, sources in sorted(self.ghg_mapped.items()):
            names = ", ".join(f"{s} ({n})" for s, n in sorted(sources.items()))
            out.append(f"  {target} ← {names}")
        if self.ghg_dropped:
            out.append("Greenhouse gases dropped (no IPCC 2021 GWP100 factor in the method as shipped):")
            for name, d in sorted(self.ghg_dropped.items()):
                out.append(f"  {name}: {d['exchanges']} exchanges; {d['reason']}")
        if self.multi_output:
            out.append(f"Multi-output datasets made single-output: {len(self.multi_output)}")
            for m in self.multi_output:
                shares = "; ".join(f"{name}{f' [{code}]' if code else ''} {share:.1%}"
                                   for code, name, share in m.products)
                out.append(f"  {m.dataset} {m.name}: {m.rule}: {shares}")
                if m.cut_off:
                    out.append("    cut off (no burden): " + "; ".join(f"{n} {a:g} {u}" for n, a, u in m.cut_off))
        if self.references:
            out.append("Reference results (IPCC 2021 GWP100), and the dropped gases' share at the factor named above:")
            for r in self.references:
                out.append(f"  {r.code} {r.name}: {r.kg_co2e:.4g} kg CO2e/{r.unit}; dropped gases "
                           f"{r.dropped_kg_co2e:.3g} kg CO2e ({r.dropped_share:.3%})")
        if self.dropped_overall:
            d = self.dropped_overall
            out.append(f"  over all {d['datasets']} activities: largest share {d['largest_share']:.3%} "
                       f"({d['dataset']} {d['name']}); {d['datasets_above_0.1%']} above 0.1 %")
        out += [f"Note: {n}" for n in self.notes]
        out.append(f"Imported in {self.seconds:.1f} s")
        return "\n".join(out) + "\n"
