"""The web app of ``footprint serve`` for manufacturers, reviewers, issuers and admins (DESIGN §7)."""
