"""A Dask cluster for footprint: a ``LocalCluster`` of N worker processes, or a running scheduler.

Each worker is one process with one thread: Brightway fixes its data directory at import and its
SQLite files are not for concurrent writers, so a worker computes one park at a time in a data
directory of its own. Monte Carlo chunks need no Brightway and run on any worker.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import numpy as np

from footprint.engine import uncertainty


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int = 2) -> Iterator:
    """A ``distributed.Client`` of the scheduler at ``scheduler`` (``tcp://host:8786``), else of a
    ``LocalCluster`` of ``workers`` processes with one thread each, closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def monte_carlo_on(client) -> uncertainty.Runner:  # noqa: ANN001 - distributed.Client, imported lazily
    """A Monte Carlo runner that spreads the seeded chunks over the client's workers.

    The park's model is sent to every worker once; the chunks come back in their order, so the
    merged samples are the ones :func:`uncertainty.run_here` draws in one process.
    """

    def run(model: uncertainty.Model, chunks: list[uncertainty.Chunk]) -> list[np.ndarray]:
        [shared] = client.scatter([model], broadcast=True, hash=False)
        futures = client.map(uncertainty.sample, [shared] * len(chunks), chunks, pure=False)
        return client.gather(futures)

    return run
