"""Many parks on a Dask cluster: ``cluster`` (connecting, worker data directories, Monte Carlo
chunks on workers) and ``parks`` (one task per park: calc, review or certify, and the batch
that gathers them). Last in the pipeline but the interfaces: it drives certificates.
"""
