"""Calculation bundles: everything a certification body needs to reproduce a park's results.

A bundle is a deterministic zip: the park's files the format defines (``loading.park_files``: no
keys, ``.env`` or other files of the folder), the background data that may be
copied (open-factors) or the identity of what may not (name, version, hash of its processed
matrix data), the method identity with a hash of its factors, engine and dependency versions,
the Monte Carlo seed, the results, and ``manifest.json`` with the SHA-256 of every file. The
bundle hash is the SHA-256 of the manifest, so changing any input row changes it.
``recompute`` re-runs a bundle in a fresh data directory, in a child process because bw2data
fixes its directory at import. A bundle comes from the manufacturer whose numbers it certifies, so
it is read as hostile: only entries of the layout (``in_layout``), checked by ``archives.read``
before anything is written, extracted into a fresh folder; the child runs isolated.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from footprint import archives
from footprint.files import write_atomic
from footprint.park import loading
from footprint.park.models import Results
from footprint.text import escape_unsafe

FORMAT = "footprint-bundle/1"
MANIFEST = "manifest.json"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
TOLERANCE = 1e-9
DEPENDENCIES = ("bw2data", "bw2calc", "bw2io", "numpy", "scipy", "pydantic", "pint")
REQUIRED = ("results.json", "environment.json", "method.json", "park/park.yaml")
OWN_FILES = frozenset({MANIFEST, *REQUIRED[:3], "background/databases.json", "background/open-factors.csv"})
LIMITS = archives.Limits(entries=64)  # the layout has a dozen files; sizes as for any archive
MAX_ITERATIONS = 100_000
QUANTITIES = ("total", "fossil", "biogenic", "luc", "primary_data_share")
STATISTICS = ("mean", "median", "p2_5", "p97_5")
CHILD_LINES = 20  # of the child's error shown


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _background_files(results: Results) -> dict[str, bytes]:
    import bw2data as bd

    from footprint.engine.background import CO2E_DB, OPEN_FACTORS, OPEN_FACTORS_CSV
    from footprint.engine.imported import identity as imported_identity

    files, identity = {}, {}
    for name, label in results.databases.items():
        if name.startswith("park:") or name in ("biosphere3", CO2E_DB):
            identity[name] = {"version": label, "copied": False, "rebuilt_by": "footprint background set-up"}
        elif name == OPEN_FACTORS:
            files["background/open-factors.csv"] = OPEN_FACTORS_CSV.read_bytes()
            identity[name] = {"version": label, "copied": True, "file": "background/open-factors.csv"}
        elif imported_identity(name):  # imported by footprint: its source's identity, not its data
            identity[name] = {"version": label, "copied": False, "identity": imported_identity(name)}
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

    results = compute_park(load_park(park_dir), iterations=iterations, seed=seed, write_database=True)
    return write(park_dir, results, out, iterations, seed), results


def contents(park_dir: Path, results: Results, iterations: int, seed: int) -> dict[str, bytes]:
    """Every file of the bundle of a park computed with ``iterations`` and ``seed``, manifest included."""
    from footprint.engine.background import method_identity

    files = {f"park/{p.name}": p.read_bytes() for p in loading.park_files(park_dir)}
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


def pack(files: dict[str, bytes]) -> bytes:
    """The deterministic zip of a bundle's files (sorted names, fixed dates)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, ZIP_DATE), files[name])
    return buffer.getvalue()


def write(park_dir: Path, results: Results, out: Path, iterations: int, seed: int) -> str:
    """Write the bundle of a park computed with ``iterations`` and ``seed``; returns its hash."""
    files = contents(park_dir, results, iterations, seed)
    write_atomic(out, pack(files))
    return digest(files)


def in_layout(name: str) -> bool:
    """Whether a bundle may carry ``name``: the park files the format defines and the bundle's own files.

    Nothing else — no data directory, key, ``.env`` or interpreter file — is ever read from a bundle.
    """
    folder, _, rest = name.partition("/")
    return name in OWN_FILES or (folder == "park" and rest in loading.FILE_NAMES)


def read(bundle: Path) -> dict[str, bytes]:
    """All files of a bundle, after checking every entry (archives.read) and each file against the manifest."""
    files = archives.read(bundle, allowed=in_layout, kind="calculation bundle", limits=LIMITS)
    try:
        manifest = json.loads(files[MANIFEST])
    except (KeyError, ValueError):
        raise ValueError(f"{bundle}: no readable {MANIFEST}; not a {FORMAT} bundle") from None
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{bundle}: not a {FORMAT} bundle")
    for name, digest in listed.items():
        if name not in files or not isinstance(digest, str) or _sha256(files[name]) != digest:
            raise ValueError(f"{bundle}: {name} does not match the manifest")
    extra = set(files) - set(listed) - {MANIFEST}
    if extra:
        raise ValueError(f"{bundle}: files not in the manifest: {', '.join(sorted(extra))}")
    missing = [name for name in REQUIRED if name not in files]
    if missing == ["park/park.yaml"] and "park/park.xlsx" in files:
        missing = []  # a workbook carrying park.yaml's keys in its park sheet
    if missing:
        raise ValueError(f"{bundle}: {', '.join(missing)} missing; not a complete {FORMAT} bundle")
    return files


def settings(files: dict[str, bytes]) -> tuple[int, int]:
    """The Monte Carlo iterations and seed a bundle records, checked to be ones footprint would run."""
    env = json.loads(files["environment.json"])
    iterations, seed = env.get("iterations"), env.get("seed")
    if type(iterations) is not int or not 0 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"environment.json: iterations {iterations!r}; expected 0 to {MAX_ITERATIONS:,}")
    if type(seed) is not int or not 0 <= seed < 2**32:
        raise ValueError(f"environment.json: seed {seed!r}; expected an integer from 0 to 2**32 - 1")
    return iterations, seed


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
        """Relative difference; infinite when one side lacks the number."""
        if math.isnan(self.recorded) or math.isnan(self.recomputed):
            return math.inf
        scale = max(abs(self.recorded), abs(self.recomputed))
        return abs(self.recorded - self.recomputed) / scale if scale else 0.0


def largest_difference(diffs: list[Difference]) -> float:
    """The largest relative difference of a recomputation; above TOLERANCE the bundle is not reproduced."""
    return max((d.relative for d in diffs), default=0.0)


class RecomputeError(RuntimeError):
    """The bundle could not be recomputed; the message is the child's own located error."""


def recompute(bundle: Path) -> tuple[Results, Results, list[Difference]]:
    """Re-run a bundle from its files alone and compare every product of its park with its results.

    The child runs isolated (``python -I``: no user site, no ``PYTHON*`` variables, not the current
    folder), with a clean environment and a fresh data directory next to, never inside, the extracted
    files, and with the background factors this footprint ships: a bundle cannot bring its own.
    Imported background databases (USLCI, ecoinvent, …) are not in the bundle either: the
    reviewer's own copy is used, after checking its identity is the one recorded, and handed to the
    child from a folder beside the extracted files.
    """
    from footprint.engine.background import OPEN_FACTORS_CSV
    from footprint.engine.imported import check_identities, export_database, recorded_identities

    files = read(bundle)
    settings(files)
    imported = recorded_identities(json.loads(files.get("background/databases.json", b"{}")))
    check_identities(imported)
    recorded = Results.model_validate_json(files["results.json"])
    park = json.loads(files[MANIFEST]).get("park")
    if recorded.park != park:
        raise ValueError(f"{bundle}: results.json is of park {recorded.park!r}, the manifest of {park!r}")
    shipped = files.get("background/open-factors.csv")
    if shipped is not None and _sha256(shipped) != _sha256(OPEN_FACTORS_CSV.read_bytes()):
        raise ValueError(f"{bundle}: background/open-factors.csv differs from the open-factors this footprint "
                         "ships; recompute with the footprint version that made the bundle")
    with tempfile.TemporaryDirectory(prefix="footprint-recompute-") as tmp:
        root, fresh_home = Path(tmp) / "bundle", Path(tmp) / "home"
        backgrounds = Path(tmp) / "imported-backgrounds"
        root.mkdir()
        fresh_home.mkdir()
        backgrounds.mkdir()
        archives.extract(files, root)
        for name in imported:
            (backgrounds / f"{name}.json").write_bytes(export_database(name))
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(fresh_home), "TMPDIR": tmp,
               "FOOTPRINT_HOME": str(fresh_home), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        child = subprocess.run([sys.executable, "-I", "-m", "footprint.review.bundle", str(root), str(backgrounds)],
                               env=env, cwd=tmp, capture_output=True, text=True)
        if child.returncode != 0:
            message = "\n".join(child.stderr.strip().splitlines()[-CHILD_LINES:])
            raise RecomputeError(f"recomputation of {bundle} failed: {message}")
        fresh = Results.model_validate_json(child.stdout)
    return recorded, fresh, compare(recorded, fresh)


def compare(recorded: Results, fresh: Results) -> list[Difference]:
    """Every number of every product of the park, recorded beside recomputed.

    Products are those of either side: one the results file leaves out (or invents) shows as a
    difference, so a results file listing only some products does not "reproduce".
    """
    nan = float("nan")
    old = {p.product_id: p for p in recorded.products}
    new = {p.product_id: p for p in fresh.products}
    out = []
    for pid in [*new, *(p for p in old if p not in new)]:
        p, q = old.get(pid), new.get(pid)
        for name in QUANTITIES:
            out.append(Difference(pid, name, getattr(p, name) if p else nan, getattr(q, name) if q else nan))
        if (p and p.uncertainty) or (q and q.uncertainty):
            for name in STATISTICS:
                out.append(Difference(pid, f"uncertainty.{name}",
                                      getattr(p.uncertainty, name) if p and p.uncertainty else nan,
                                      getattr(q.uncertainty, name) if q and q.uncertainty else nan))
    return out


def _child(root: Path, backgrounds: Path) -> None:
    """In the fresh process: set up the shipped background and the reviewer's imported databases,
    compute, print the results JSON.

    Errors are printed as one located message (never a traceback) and exit 2 for bad data.
    """
    from footprint.engine import home

    home.activate()
    from footprint.engine.background import ensure_project, method_identity
    from footprint.engine.calculation import compute_park
    from footprint.engine.imported import load_database
    from footprint.park.errors import ParkDataError
    from footprint.park.loading import load_park

    try:
        iterations, seed = settings({"environment.json": (root / "environment.json").read_bytes()})
        park = load_park(root / "park")
        ensure_project()
        for exported in sorted(backgrounds.glob("*.json")):
            load_database(exported.read_bytes())
        recorded_method = json.loads((root / "method.json").read_text())
        if method_identity()["factors_sha256"] != recorded_method.get("factors_sha256"):
            sys.exit("the characterisation factors differ from the bundle's (method.json factors_sha256)")
        results = compute_park(park, iterations=iterations, seed=seed)
    except ParkDataError as e:
        sys.stderr.write(f"invalid park data in the bundle: {len(e.problems)} problem(s)\n")
        sys.stderr.writelines(f"  {escape_unsafe(str(p))}\n" for p in e.problems[:CHILD_LINES - 1])
        sys.exit(2)
    except Exception as e:  # noqa: BLE001 - one clean line for the parent, never a traceback
        sys.exit(escape_unsafe(f"{type(e).__name__}: {e}"))
    print(results.model_dump_json())


if __name__ == "__main__":
    _child(Path(sys.argv[1]), Path(sys.argv[2]))
