"""The calculation engine: data directory, Brightway background and foreground, solving, uncertainty, checks.

Public: ``home.activate`` (before anything imports bw2data), ``background.ensure_project``,
``inventory.build_foreground`` / ``write_foreground``, ``calculation.compute_park`` / ``calculate`` /
``Solution``, ``uncertainty.simulate``, ``checks.review`` (findings a reviewer must see).
"""
