"""The one data directory that holds all of footprint's state.

``BRIGHTWAY2_DIR`` must point into it before ``bw2data`` is first imported, because bw2data
fixes its directory at import time; every entry point calls :func:`activate` first.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

DEFAULT_HOME = Path("~/.local/share/footprint")
PROJECT = "footprint"


def resolve(home: str | Path | None = None) -> Path:
    """``--home`` beats ``FOOTPRINT_HOME``, which beats the default ``~/.local/share/footprint``."""
    chosen = home or os.environ.get("FOOTPRINT_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def activate(home: str | Path | None = None) -> Path:
    """Create the data directory and point Brightway at it; returns the directory."""
    path = resolve(home)
    path.mkdir(parents=True, exist_ok=True)
    bw_dir = str(path / "brightway")
    if "bw2data" in sys.modules:
        if os.environ.get("BRIGHTWAY2_DIR") != bw_dir:
            raise RuntimeError(
                f"bw2data was already imported with BRIGHTWAY2_DIR={os.environ.get('BRIGHTWAY2_DIR')!r}; "
                f"cannot switch to {bw_dir!r} in the same process"
            )
    else:
        os.environ["BRIGHTWAY2_DIR"] = bw_dir
        # bw2data logs each step to stdout, from import on; footprint reports progress itself.
        os.environ.setdefault("BRIGHTWAY_NO_STRUCTLOG", "1")
        logging.getLogger("brightway-stdout-feedback").disabled = True
        Path(bw_dir).mkdir(exist_ok=True)
    os.environ["FOOTPRINT_HOME"] = str(path)  # later resolve() calls (cache, registry, keys) and children mean it
    return path
