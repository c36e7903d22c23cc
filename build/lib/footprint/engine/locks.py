"""Locks that let several processes share one data directory's Brightway project.

Brightway keeps every database in one SQLite file and each park's matrices in files rewritten with
the park's database; two runs rewriting the same park at once read each other's half-written data
(seen: "Error: 'pv-electricity'", a park database left with 0 activities). A run that writes a
park holds that park's lock from the write until its matrices are read, so runs on one park wait
for each other and runs on different parks proceed side by side; setting up the project (first
run, a changed open-factors file) holds the project lock. The locks are ``flock`` locks on files
in ``<home>/locks``: the kernel releases them when a process dies, so a killed run blocks no one.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
from collections.abc import Iterator

from footprint.engine import home


@contextlib.contextmanager
def _held(name: str) -> Iterator[None]:
    folder = home.resolve() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def park(park_id: str) -> contextlib.AbstractContextManager[None]:
    """Exclusive use of one park's Brightway database and matrices."""
    return _held("park-" + re.sub(r"[^a-z0-9-]", "_", park_id.lower()))


def project() -> contextlib.AbstractContextManager[None]:
    """Exclusive use of the project's shared set-up (biosphere, methods, open-factors)."""
    return _held("project")
