"""Emission flow aliases of the park format (DESIGN §2) → biosphere3 flows.

Each alias names a biosphere3 flow by (name, categories) as bw2io's biosphere3 spells them
(ecoinvent ≥3.9 writes 'air, unspecified' as the single category ``("air",)``).
"""

from __future__ import annotations

AIR = ("air",)

ALIASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "CO2": ("Carbon dioxide, fossil", AIR),
    "CH4": ("Methane, fossil", AIR),
    "N2O": ("Dinitrogen monoxide", AIR),
    "SF6": ("Sulfur hexafluoride", AIR),
    "NF3": ("Nitrogen fluoride", AIR),
    "HFC-134a": ("Ethane, 1,1,1,2-tetrafluoro-, HFC-134a", AIR),
    "HFC-32": ("Methane, difluoro-, HFC-32", AIR),
    "HFC-125": ("Ethane, pentafluoro-, HFC-125", AIR),
    "CH4-biogenic": ("Methane, non-fossil", AIR),
    "CO2-biogenic": ("Carbon dioxide, non-fossil", AIR),
    "CO2-luc": ("Carbon dioxide, from soil or biomass stock", AIR),
    "CH4-luc": ("Methane, from soil or biomass stock", ("air", "non-urban air or from high stacks")),
}

# Gas columns of open-factors rows: kg of gas per unit, written as these biosphere3 flows.
FACTOR_GASES = {"co2": "CO2", "ch4": "CH4", "n2o": "N2O"}

BIOSPHERE_PREFIX = "biosphere3:"
