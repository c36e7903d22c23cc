"""footprint — product carbon footprints for industrial parks, from supplier rows to certificates.

The scripting API (see README): ``load_park`` reads and validates a park folder, ``compute``
computes every product's footprint and writes its Brightway database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from footprint.park.models import ParkData, Results


def load_park(folder: str | Path) -> ParkData:
    """Read and validate a park folder; raises ``ParkDataError`` listing every problem."""
    from footprint.park.loading import load_park as _load

    return _load(folder)


def compute(park: ParkData | str | Path, home: str | Path | None = None) -> Results:
    """Compute every product, and write the park's Brightway database in the data directory (when its
    content changed) for scripts that go on with bw2calc or Activity Browser."""
    from footprint.engine import home as _home

    _home.activate(home)
    from footprint.engine.calculation import compute_park

    if not hasattr(park, "park"):
        park = load_park(park)
    return compute_park(park, write_database=True)
