"""Pydantic models: the single source of truth for park data and results shapes.

Every park row keeps its origin (file and spreadsheet row) so any number can be traced back.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DataType = Literal["primary", "secondary"]
EmissionKind = Literal["combustion", "process", "fugitive", "land-use-change"]
Category = Literal["electricity", "heat and steam", "fuels", "materials", "packaging", "transport", "water",
                   "waste treatment", "services", "direct emissions"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
# inputs.csv `category` (format 2) → the category of contributions
INPUT_CATEGORIES: dict[str, str] = {
    "materials": "materials", "packaging": "packaging", "electricity": "electricity", "heat": "heat and steam",
    "fuels": "fuels", "transport": "transport", "water": "water", "waste-treatment": "waste treatment",
    "services": "services",
}
Boundary = Literal["cradle-to-gate", "gate-to-gate", "combustion-only", "direct-only"]
GwpSet = Literal["AR6", "AR5", "AR4", "unknown"]
OutputKind = Literal["product", "waste"]
ElectricityMethod = Literal["market-based", "location-based"]
FORMATS = ("footprint-park/1", "footprint-park/2")


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
    format: Literal["footprint-park/1", "footprint-park/2"]
    id: str
    name: str
    name_zh: str | None = None
    country: str
    region: str | None = None
    period: Period
    background: str = "open-factors"
    # format 2 settings (DESIGN §2 "Format version 2"); a format-1 park means these defaults
    exemption_limit_percent: float = Field(5.0, ge=0, le=100)
    electricity_method: ElectricityMethod = "market-based"
    grid_factor: str | None = None  # ref of the location-based grid factor; None = the region's default
    residual_mix_factor: str | None = None  # ref of the residual mix; None = the country's default

    @property
    def version(self) -> int:
        return int(self.format.rsplit("/", 1)[1])


class Facility(BaseModel):
    origin: Row
    facility_id: str
    enterprise: str
    enterprise_id: str | None = None
    name: str
    allocation: str | None = None
    allocation_reason: str | None = None  # why economic (ISO 14044 4.3.4.2); required with `economic`
    address: str | None = None
    unlocode: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    installation_id: str | None = None  # CBAM installation identity


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
    kind: OutputKind = "product"  # waste: no share of the burden, carries none, no certificate
    fossil_carbon_kg: float | None = None  # kg C per declared unit; None = not assessed (never 0)
    biogenic_carbon_kg: float | None = None


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
    category: str | None = None  # a key of INPUT_CATEGORIES; None = derived from the item
    transport_data_type: DataType = "secondary"


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
    boundary: Boundary = "cradle-to-gate"
    gwp: GwpSet = "unknown"
    data_type: DataType = "secondary"  # primary: a supplier-specific PCF of this very supply
    pds: float | None = None  # that supplier PCF's own primary data share, 0–1
    ter: int | None = None  # PACT 3 data quality 1–5 (1 best): technological, geographical, temporal
    ger: int | None = None
    tir: int | None = None


class Exclusion(BaseModel):
    """exclusions.csv: something knowingly left out (ISO 14067 cut-off), with its estimate."""

    origin: Row
    facility_id: str
    item: str
    estimate: float  # kg CO2e in the period
    basis: str
    source: str


class AttributeCertificate(BaseModel):
    """electricity.csv: energy attribute certificates or contracts of one facility."""

    origin: Row
    facility_id: str
    instrument: Literal["GEC", "I-REC", "PPA", "direct-line"]
    technology: str
    mwh: float
    status: Literal["retired", "sold"]
    vintage_start: date
    vintage_end: date
    certificate_ids: str | None = None
    source: str


class ParkData(BaseModel):
    """A validated park: its metadata and every row of its tables."""

    folder: str
    park: Park
    facilities: list[Facility]
    outputs: list[Output]
    inputs: list[Input]
    emissions: list[Emission] = Field(default_factory=list)
    factors: list[Factor] = Field(default_factory=list)
    exclusions: list[Exclusion] = Field(default_factory=list)
    electricity: list[AttributeCertificate] = Field(default_factory=list)


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


class BackgroundDataset(BaseModel):
    """A background activity a product's supply chain draws on, and the publication it comes from."""

    database: str
    code: str
    name: str
    unit: str
    location: str
    publication: str


class Allocation(BaseModel):
    basis: str
    share: float


class ExemptedItem(BaseModel):
    """One exclusions.csv row as it reaches a product: through its facility's allocation and the
    park's supply chain (loops included), in kg CO2e per declared unit of the product."""

    facility_id: str
    item: str
    estimate: float  # kg CO2e in the period, as declared
    per_unit: float  # kg CO2e per declared unit of this product
    basis: str
    source: str
    row: str  # exclusions.csv:<row>


class Electricity(BaseModel):
    """Both electricity accounting methods of DESIGN §3 v2, kg CO2e (IPCC 2021 total) per declared
    unit. ``method`` is the park's headline method: ``total`` equals that method's value."""

    method: ElectricityMethod
    location_based: float  # grid consumption at the grid's life-cycle factor
    market_based: float  # retired certificates at their technology, the rest at the residual mix


class Dqi(BaseModel):
    """PACT 3 data quality indicators: contribution-weighted means over every contribution of the
    whole supply chain (park products resolved to their own sources), 1 best … 5. A factor without
    ratings counts 3; ``unrated_share`` is the weight of those, ``unrated`` names them."""

    ter: float
    ger: float
    tir: float
    unrated_share: float
    unrated: list[str] = Field(default_factory=list)


class AllocationDisclosure(BaseModel):
    """An allocation in the product's supply chain that moves more than 1 % of its total."""

    facility_id: str
    facility: str
    basis: str
    reason: str | None  # facilities.csv allocation_reason (required for economic allocation)
    shares: dict[str, float]  # product_id → share of the facility's inputs and emissions
    moved: float  # kg CO2e per declared unit of this product that passed this allocation
    moved_share: float  # moved / total


class AllocationAlternative(BaseModel):
    """This product's total if one allocating facility of its supply chain used another basis (for the
    review: DESIGN §3 v2, "the review shows each product under every other basis available")."""

    facility_id: str
    basis: str  # mass, economic or physical:<column>
    shares: dict[str, float]  # product_id → share under that basis
    total: float  # kg CO2e per declared unit of this product


class BoundaryException(BaseModel):
    """A factor whose boundary is not cradle-to-gate, as it reaches a product (DESIGN §3 v2)."""

    ref: str  # the factor as referenced: factor:<code> or <database>:<code>
    name: str
    boundary: str
    contribution: float  # kg CO2e per declared unit of this product
    share: float  # contribution / total
    rows: list[str]  # the input rows of the supply chain that use it


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
    # ---- format 2 (DESIGN §3 "Rules of version 2", §4); computed for format-1 parks too where the
    # rule needs no new column. All per declared unit.
    exempted: float = 0.0  # kg CO2e of declared exclusions reaching this product (not in `total`)
    exempted_percent: float | None = None  # exempted / (pcf_excluding_biogenic_uptake + exempted) × 100
    exempted_items: list[ExemptedItem] = Field(default_factory=list)
    biogenic_co2: float = 0.0  # kg CO2 of biogenic CO2 emitted (GWP 1 in PACT's pcfExcludingBiogenicUptake)
    biogenic_uptake: float | None = None  # kg CO2 taken up = biogenic_carbon_kg × 44/12; None = not declared
    pcf_excluding_biogenic_uptake: float = 0.0  # total + biogenic_co2 (PACT pcfExcludingBiogenicUptake)
    pcf_including_biogenic_uptake: float | None = None  # excluding − uptake; None when uptake is not declared
    fossil_carbon_content: float | None = None  # kg C per declared unit (outputs.csv); None = not assessed
    biogenic_carbon_content: float | None = None
    electricity: Electricity | None = None  # None for format-1 parks (grid rows at their own factors)
    dqi: Dqi | None = None  # None when nothing contributes
    gwp_sets: list[str] = Field(default_factory=list)  # every GWP set that contributes: AR6, AR5, AR4, unknown
    allocations: list[AllocationDisclosure] = Field(default_factory=list)
    boundary_exceptions: list[BoundaryException] = Field(default_factory=list)
    allocation_alternatives: list[AllocationAlternative] = Field(default_factory=list)
    background_datasets: list[BackgroundDataset] = Field(default_factory=list)


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
