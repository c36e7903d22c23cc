"""The calculation engine: data directory, Brightway background and foreground, solving, uncertainty, checks.

Public: ``home.activate`` (before anything imports bw2data), ``background.ensure_project``,
``inventory.build_foreground`` / ``write_foreground`` (the park database, only when asked and changed),
``calculation.compute_park`` / ``calculate`` / ``Solution`` (in memory), ``background_footprints.footprints``
(the background's, cached), ``uncertainty.simulate``, ``checks.review`` (findings a reviewer must see).
"""
