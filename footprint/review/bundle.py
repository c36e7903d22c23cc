"""Calculation bundles: everything a certification body needs to reproduce a park's results.

A bundle is a deterministic zip: the park's files as given, the background data that may be
copied (open-factors) or the identity of what may not (name, version, hash of its processed
matrix data), the method identity with a hash of its factors, engine and dependency versions,
the Monte Carlo seed, the results, and ``manifest.json`` with the SHA-256 of every file. The
bundle hash is the SHA-256 of the manifest, so changing any input row changes it.
``recompute`` re-runs a bundle in a fresh data directory, in a child process because bw2data
fixes its directory at import.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from footprint.files import write_atomic
from footprint.park.models import Results

FORMAT = "footprint-bundle/1"
MANIFEST = "manifest.json"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
TOLERANCE = 1e-9
DEPENDENCIES = ("bw2data", "bw2calc", "bw2io", "numpy", "scipy", "pydantic", "pint")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _background_files(results: Results) -> dict[str, bytes]:
    import bw2data as bd

    from footprint.engine.background import CO2E_DB, OPEN_FACTORS, OPEN_FACTORS_CSV

    files, identity = {}, {}
    for name, label in results.databases.items():
        if name.startswith("park:") or name in ("biosphere3", CO2E_DB):
            identity[name] = {"version": label, "copied": False, "rebuilt_by": "footprint background set-up"}
        elif name == OPEN_FACTORS:
            files["background/open-factors.csv"] = OPEN_FACTORS_CSV.read_bytes()
            identity[name] = {"version": label, "copied": True, "file": "background/open-factors.csv"}
        else:  # a licensed database: record what was used, do not copy it
            processed = Path(bd.Database(name).filepath_processed())
            identity[name] = {"version": label, "copied": False,
                              "processed_sha256": _sha256(processed.read_bytes())}
    files["background/databases.json"] = _json(identity)
    return files


def create(park_dir: Path, out: Path, iterations: int, seed: int) -> tuple[str, Results]:
    """Compute the park and write its bundle to ``out``; returns the bundle hash and results."""
    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park

    results = compute_park(load_park(park_dir), iterations=iterations, seed=seed)
    return write(park_dir, results, out, iterations, seed), results


def contents(park_dir: Path, results: Results, iterations: int, seed: int) -> dict[str, bytes]:
    """Every file of the bundle of a park computed with ``iterations`` and ``seed``, manifest included."""
    from footprint.engine.background import method_identity

    files = {f"park/{p.name}": p.read_bytes() for p in sorted(Path(park_dir).iterdir()) if p.is_file()}
    files.update(_background_files(results))
    files["method.json"] = _json(method_identity())
    files["environment.json"] = _json({
        "engine": results.engine, "python": platform.python_version(),
        "dependencies": {d: version(d) for d in DEPENDENCIES}, "iterations": iterations, "seed": seed,
    })
    files["results.json"] = results.model_dump_json(indent=2).encode()
    manifest = _json({"format": FORMAT, "park": results.park,
                      "files": {name: _sha256(data) for name, data in sorted(files.items())}})
    files[MANIFEST] = manifest
    return files


def digest(files: dict[str, bytes]) -> str:
    """The bundle hash: SHA-256 of its manifest."""
    return _sha256(files[MANIFEST])


def write(park_dir: Path, results: Results, out: Path, iterations: int, seed: int) -> str:
    """Write the bundle of a park computed with ``iterations`` and ``seed``; returns its hash."""
    files = contents(park_dir, results, iterations, seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, ZIP_DATE), files[name])
    write_atomic(out, buffer.getvalue())
    return digest(files)


def read(bundle: Path) -> dict[str, bytes]:
    """All files of a bundle, after checking each against the manifest."""
    with zipfile.ZipFile(bundle) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files[MANIFEST])
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{bundle}: not a {FORMAT} bundle")
    listed = manifest["files"]
    for name, digest in listed.items():
        if name not in files or _sha256(files[name]) != digest:
            raise ValueError(f"{bundle}: {name} does not match the manifest")
    extra = set(files) - set(listed) - {MANIFEST}
    if extra:
        raise ValueError(f"{bundle}: files not in the manifest: {', '.join(sorted(extra))}")
    return files


def bundle_hash(bundle: Path) -> str:
    return digest(read(bundle))


@dataclass
class Difference:
    product_id: str
    quantity: str
    recorded: float
    recomputed: float

    @property
    def relative(self) -> float:
        scale = max(abs(self.recorded), abs(self.recomputed))
        return abs(self.recorded - self.recomputed) / scale if scale else 0.0


def recompute(bundle: Path) -> tuple[Results, Results, list[Difference]]:
    """Re-run a bundle from its files alone in a fresh data directory; compare with its results."""
    files = read(bundle)
    recorded = Results.model_validate_json(files["results.json"])
    with tempfile.TemporaryDirectory(prefix="footprint-recompute-") as tmp:
        root = Path(tmp)
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        env = {**os.environ, "FOOTPRINT_HOME": str(root / "home")}
        env.pop("BRIGHTWAY2_DIR", None)
        child = subprocess.run([sys.executable, "-m", "footprint.review.bundle", str(root)], env=env,
                               capture_output=True, text=True)
        if child.returncode != 0:
            raise RuntimeError(f"recomputation failed:\n{child.stderr.strip()}")
        fresh = Results.model_validate_json(child.stdout)
    return recorded, fresh, compare(recorded, fresh)


def compare(recorded: Results, fresh: Results) -> list[Difference]:
    """Every number of each product, recorded beside recomputed."""
    out = []
    fresh_by_id = {p.product_id: p for p in fresh.products}
    for p in recorded.products:
        q = fresh_by_id.get(p.product_id)
        quantities = ["total", "fossil", "biogenic", "luc", "primary_data_share"]
        for name in quantities:
            out.append(Difference(p.product_id, name, getattr(p, name), getattr(q, name) if q else float("nan")))
        if p.uncertainty:
            for name in ("mean", "median", "p2_5", "p97_5"):
                value = getattr(q.uncertainty, name) if q and q.uncertainty else float("nan")
                out.append(Difference(p.product_id, f"uncertainty.{name}", getattr(p.uncertainty, name), value))
    return out


def _child(root: Path) -> None:
    """In the fresh process: set up from the bundle's own background and compute."""
    from footprint.engine import home

    home.activate()
    from footprint.engine.background import ensure_project, method_identity
    from footprint.engine.calculation import compute_park
    from footprint.park.loading import load_park

    env = json.loads((root / "environment.json").read_text())
    of = root / "background" / "open-factors.csv"
    ensure_project(open_factors=of if of.exists() else None)
    recorded_method = json.loads((root / "method.json").read_text())
    if method_identity()["factors_sha256"] != recorded_method["factors_sha256"]:
        sys.exit("the characterisation factors differ from the bundle's (method.json factors_sha256)")
    results = compute_park(load_park(root / "park"), iterations=env["iterations"], seed=env["seed"])
    print(results.model_dump_json())


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
