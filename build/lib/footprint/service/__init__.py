"""``footprint serve``: the ASGI app (``app.create_app``) with the PACT v3 host API (``pact_api``, event replies
in ``callbacks``) and the public verification pages (``verification_pages``). Interfaces only: the rules live
in registry/, certificates/ and exchange/.
"""
