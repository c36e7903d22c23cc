"""Elementary flows of other databases → biosphere3, with every greenhouse gas accounted for.

A flow maps by name within its compartment. Greenhouse gases to air map by an explicit table of
the names other flow lists use (Federal LCA Commons, openLCA, SimaPro) onto the biosphere3 flows
the IPCC 2021 method characterises, whatever the sub-compartment (the factor does not depend on
it). A gas with no factor in that method is dropped and reported with a stated stand-in factor,
so the link report can say what it would have added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

# Names other flow lists use → the biosphere3 name the IPCC 2021 method characterises.
GHG_SYNONYMS = {
    "carbon dioxide": "Carbon dioxide, fossil",
    "carbon dioxide, fossil": "Carbon dioxide, fossil",
    "methane": "Methane, fossil",
    "methane, fossil": "Methane, fossil",
    "methane, biogenic": "Methane, non-fossil",
    "nitrous oxide": "Dinitrogen monoxide",
    "nitrogen trifluoride": "Nitrogen fluoride",
    "hexafluoroethane": "Ethane, hexafluoro-, HFC-116",
    "carbon tetrafluoride": "Methane, tetrafluoro-, R-14",
    "tetrafluoromethane": "Methane, tetrafluoro-, R-14",
    "tetrafluoroethane (r-134a)": "Ethane, 1,1,1,2-tetrafluoro-, HFC-134a",
    "1,1,1-trichloroethane": "Ethane, 1,1,1-trichloro-, HCFC-140",
    "1,2-dichloroethane": "Ethane, 1,2-dichloro-",
    "chloromethane": "Methane, monochloro-, R-40",
    "methyl chloride": "Methane, monochloro-, R-40",
    "methylene chloride": "Methane, dichloro-, HCC-30",
    "dichloromethane": "Methane, dichloro-, HCC-30",
    "carbon tetrachloride": "Methane, tetrachloro-, R-10",
    "tetrachloromethane": "Methane, tetrachloro-, R-10",
    "chloroethane": "Monochloroethane",
    "methyl bromide": "Methane, bromo-, Halon 1001",
    "bromomethane": "Methane, bromo-, Halon 1001",
    "1-bromopropane": "Bromopropane",
}
# Flows that are not fossil greenhouse-gas emissions although their names match above.
NOT_EMISSIONS = {"carbon dioxide, biogenic": "Carbon dioxide, non-fossil",
                 "carbon dioxide, non-fossil": "Carbon dioxide, non-fossil"}

# Gases without a factor in the method as shipped: the stand-in used only to size what dropping them
# leaves out. Groups use a named member's factor from the method; single gases their IPCC AR6 GWP100
# (AR6 WG1 Table 7.SM.7).
DROPPED = {
    "chlorofluorocarbons": ("unspecified CFC group; sized at CFC-11", "Methane, trichlorofluoro-, CFC-11"),
    "hydrochlorofluorocarbons": ("unspecified HCFC group; sized at HCFC-22", "Methane, chlorodifluoro-, HCFC-22"),
    "hydrofluorocarbons": ("unspecified HFC group; sized at HFC-134a", "Ethane, 1,1,1,2-tetrafluoro-, HFC-134a"),
    "perfluorocarbons": ("unspecified PFC group; sized at PFC-14", "Methane, tetrafluoro-, R-14"),
    "hfc-143": ("not in the method as shipped; sized at IPCC AR6 GWP100 364", 364.0),
    "hfc-245fa": ("not in the method as shipped; sized at IPCC AR6 GWP100 962", 962.0),
}
GHG_LOOKALIKE = re.compile(r"^(h?cfc|hfc|pfc|halon)\b|fluorocarbon|^perfluoro|hexafluoride|trifluoride|^carbon dioxide"
                           r"|^methane\b|^nitrous oxide|^dinitrogen monoxide", re.I)

COMPARTMENTS = {"air": ("air",), "water": ("water",), "soil": ("soil",), "natural resource": ("natural resource",)}


@dataclass
class Mapped:
    code: str | None  # biosphere3 code, None when dropped
    ghg: str | None  # biosphere3 name when a characterised greenhouse gas
    dropped: tuple[str, float] | None = None  # (reason, stand-in kg CO2e/kg) of a dropped greenhouse gas


class Biosphere:
    """biosphere3 looked up by name and compartment, with the IPCC 2021 total factors."""

    def __init__(self, flows: dict[tuple[str, tuple[str, ...]], str], factors: dict[str, float]):
        self.flows = flows  # (name, categories) → code
        self.factors = factors  # code → kg CO2e/kg (total)
        self.by_name: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for (name, cats), code in sorted(flows.items()):
            self.by_name.setdefault(name.lower(), []).append((cats, code))

    @classmethod
    def load(cls) -> Biosphere:
        from footprint.engine.background import biosphere_codes, method_factors, node_ids

        factors = method_factors("total")
        codes = {i: code for code, i in node_ids("biosphere3").items()}
        return cls(biosphere_codes(), {codes[i]: cf for i, cf in factors.items() if i in codes})

    @cached_property
    def ghg_names(self) -> dict[str, str]:
        """Lower-case source name → biosphere3 name: the synonyms, each characterised name, and its
        last comma part when that is a refrigerant code (``CFC-11`` → ``Methane, trichlorofluoro-, CFC-11``)."""
        names = {}
        for (name, cats), code in self.flows.items():
            if code in self.factors and cats[:1] == ("air",):
                names[name.lower()] = name
                short = name.rsplit(", ", 1)[-1]
                if short != name and re.match(r"^(H?CFC|HFC|HCC|Halon|R)-? ?\d", short):
                    names[short.lower()] = name
        names.update(GHG_SYNONYMS)
        return names

    def air_code(self, name: str) -> str:
        """The characterised biosphere3 flow of this name, unspecified air first."""
        options = [(cats, code) for cats, code in self.by_name[name.lower()] if code in self.factors]
        options.sort(key=lambda c: (c[0] != ("air",), c[0]))
        return options[0][1]

    def factor_of(self, name: str) -> float:
        return self.factors[self.air_code(name)]

    def map(self, name: str, compartment: str | None, sub: str | None = None) -> Mapped:
        """Map one flow; ``compartment`` is air, water, soil or natural resource (None: unknown)."""
        key = name.strip().lower()
        if compartment == "air":
            if key in NOT_EMISSIONS:
                return Mapped(self._exact(NOT_EMISSIONS[key], ("air",)), None)
            target = self.ghg_names.get(key)
            if target:
                return Mapped(self.air_code(target), target)
            if key in DROPPED:
                reason, stand_in = DROPPED[key]
                factor = stand_in if isinstance(stand_in, float) else self.factor_of(stand_in)
                return Mapped(None, None, (reason, factor))
            if GHG_LOOKALIKE.search(key) and not self._exact(name, ("air",)):
                return Mapped(None, None, ("looks like a greenhouse gas but has no biosphere3 flow; not sized", 0.0))
        if compartment is None:
            return Mapped(None, None)
        cats = COMPARTMENTS[compartment]
        code = self._exact(name, (*cats, sub) if sub else cats) or self._exact(name, cats)
        if code is None and compartment == "natural resource":
            code = next((c for cs, c in self.by_name.get(key, ()) if cs[:1] == cats), None)
        return Mapped(code, None)

    def _exact(self, name: str, cats: tuple[str, ...]) -> str | None:
        return next((c for cs, c in self.by_name.get(name.strip().lower(), ()) if cs == cats), None)
