"""Pydantic models: the single source of truth for park data and results shapes.

Every park row keeps its origin (file and spreadsheet row) so any number can be traced back.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DataType = Literal["primary", "secondary"]
EmissionKind = Literal["combustion", "process", "fugitive", "land-use-change"]
Category = Literal["electricity", "heat and steam", "fuels", "materials", "transport", "direct emissions"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]


class Row(BaseModel):
    """Where a value came from: file name and spreadsheet row (header = row 1)."""

    model_config = ConfigDict(frozen=True)

    file: str
    row: int

    @property
    def label(self) -> str:
        return f"{self.file}:{self.row}"


class Period(BaseModel):
    start: date
    end: date


class Park(BaseModel):
    format: Literal["footprint-park/1"]
    id: str
    name: str
    name_zh: str | None = None
    country: str
    region: str | None = None
    period: Period
    background: str = "open-factors"


class Facility(BaseModel):
    origin: Row
    facility_id: str
    enterprise: str
    enterprise_id: str | None = None
    name: str
    allocation: str | None = None


class Output(BaseModel):
    origin: Row
    product_id: str
    facility_id: str
    name: str
    name_zh: str | None = None
    unit: str
    amount: float
    mass_kg: float | None = None
    price: float | None = None
    hs_code: str | None = None
    physical: dict[str, float] = Field(default_factory=dict)


class Input(BaseModel):
    origin: Row
    facility_id: str
    ref: str
    amount: float
    unit: str
    data_type: DataType
    source: str
    transport_ref: str | None = None
    distance_km: float | None = None
    gsd: float | None = None  # geometric standard deviation, when the park states it


class Emission(BaseModel):
    origin: Row
    facility_id: str
    flow: str
    amount: float
    unit: str
    kind: EmissionKind
    source: str
    gsd: float | None = None


class Factor(BaseModel):
    origin: Row
    code: str
    name: str
    unit: str
    fossil: float
    biogenic: float
    luc: float
    source: str
    dqr: int | None = None
    category: str | None = None
    gsd: float | None = None


class ParkData(BaseModel):
    """A validated park: its metadata and every row of its tables."""

    folder: str
    park: Park
    facilities: list[Facility]
    outputs: list[Output]
    inputs: list[Input]
    emissions: list[Emission] = Field(default_factory=list)
    factors: list[Factor] = Field(default_factory=list)


# ---- results -------------------------------------------------------------------------------


class Parts(BaseModel):
    """kg CO2e per declared unit by IPCC 2021 part; total = fossil + biogenic + luc."""

    fossil: float = 0.0
    biogenic: float = 0.0
    luc: float = 0.0

    @property
    def total(self) -> float:
        return self.fossil + self.biogenic + self.luc


class Contribution(BaseModel):
    """A share of a product's footprint, per declared unit, with the rows it comes from."""

    key: str
    label: str
    total: float
    fossil: float
    biogenic: float
    luc: float
    rows: list[str] = Field(default_factory=list)
    category: str | None = None
    amount: float | None = None
    unit: str | None = None
    data_type: str | None = None


class Allocation(BaseModel):
    basis: str
    share: float


class Uncertainty(BaseModel):
    """Monte Carlo distribution of a product's total, kg CO2e per declared unit."""

    iterations: int
    seed: int | None
    mean: float
    median: float
    p2_5: float
    p97_5: float


class ProductResult(BaseModel):
    product_id: str
    name: str
    name_zh: str | None = None
    facility_id: str
    facility: str
    enterprise: str
    enterprise_id: str | None = None
    unit: str
    amount: float
    mass_kg: float | None = None
    hs_code: str | None = None
    total: float
    fossil: float
    biogenic: float
    luc: float
    primary_data_share: float
    dqr: float | None = None
    allocation: Allocation
    contributions_by_input: list[Contribution]
    contributions_by_facility: list[Contribution]
    contributions_by_enterprise: list[Contribution]
    contributions_by_category: list[Contribution]
    background: list[str]
    uncertainty: Uncertainty | None = None


class Results(BaseModel):
    format: Literal["footprint-results/1"] = "footprint-results/1"
    park: str
    park_name: str
    park_name_zh: str | None = None
    period: Period
    method: str = "IPCC 2021 GWP100"
    engine: str
    databases: dict[str, str]
    products: list[ProductResult]

    def product(self, product_id: str) -> ProductResult:
        for p in self.products:
            if p.product_id == product_id:
                return p
        raise KeyError(product_id)

    def to_dataframe(self):
        """One row per product: id, names, unit, parts, total and primary data share."""
        import pandas as pd

        cols = ["product_id", "name", "name_zh", "facility_id", "enterprise", "unit", "total", "fossil",
                "biogenic", "luc", "primary_data_share", "dqr"]
        return pd.DataFrame([{c: getattr(p, c) for c in cols} for p in self.products]).set_index("product_id")
