"""Units of the park format (DESIGN §2) and their conversion, via pint.

An amount converts only within its dimension; Brightway's long unit names map to the same units.
"""

from __future__ import annotations

from functools import cache, lru_cache

import pint

UNITS = ("g", "kg", "t", "MJ", "GJ", "TJ", "kWh", "MWh", "L", "m3", "piece", "tkm")

# Brightway (ecoinvent-style) unit names → park unit symbols.
BRIGHTWAY_UNITS = {
    "gram": "g",
    "kilogram": "kg",
    "ton": "t",
    "tonne": "t",
    "metric ton": "t",
    "megajoule": "MJ",
    "gigajoule": "GJ",
    "terajoule": "TJ",
    "kilowatt hour": "kWh",
    "megawatt hour": "MWh",
    "litre": "L",
    "liter": "L",
    "cubic meter": "m3",
    "unit": "piece",
    "piece": "piece",
    "ton kilometer": "tkm",
    "tonne kilometer": "tkm",
    "metric ton*km": "tkm",
}
PARK_TO_BRIGHTWAY = {
    "g": "gram",
    "kg": "kilogram",
    "t": "ton",
    "MJ": "megajoule",
    "GJ": "gigajoule",
    "TJ": "terajoule",
    "kWh": "kilowatt hour",
    "MWh": "megawatt hour",
    "L": "litre",
    "m3": "cubic meter",
    "piece": "unit",
    "tkm": "ton kilometer",
}

_PINT_NAMES = {"t": "tonne", "L": "liter", "m3": "meter**3", "piece": "count", "tkm": "tonne*kilometer"}


@lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry:
    return pint.UnitRegistry()


@cache
def _quantity(unit: str) -> pint.Unit:
    return _registry().Unit(_PINT_NAMES.get(unit, unit))


def is_known(unit: str) -> bool:
    return unit in UNITS


def from_brightway(name: str) -> str | None:
    """Park symbol of a Brightway unit name, or None when footprint does not know it."""
    if name in UNITS:
        return name
    return BRIGHTWAY_UNITS.get(name.strip().lower())


@cache
def dimension(unit: str) -> str:
    """Readable dimension of a park unit: mass, energy, volume, count or freight."""
    dims = _quantity(unit).dimensionality
    for label, ref in (("mass", "kg"), ("energy", "MJ"), ("volume", "m3"), ("count", "piece"), ("freight", "tkm")):
        if dims == _quantity(ref).dimensionality:
            return label
    return str(dims)


@cache
def factor(from_unit: str, to_unit: str) -> float:
    """Multiplier converting an amount in ``from_unit`` to ``to_unit``; ValueError across dimensions."""
    if dimension(from_unit) != dimension(to_unit):
        raise ValueError(f"cannot convert {from_unit} ({dimension(from_unit)}) to {to_unit} ({dimension(to_unit)})")
    return float((1 * _quantity(from_unit)).to(_quantity(to_unit)).magnitude)
