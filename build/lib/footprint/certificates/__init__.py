"""What a certificate says and how it is issued: its view of the results and PACT record, rendering,
signing keys, PAdES signing, issuing into the registry, and verification.

Public: ``certification.prepare`` / ``certify`` (drafts) / ``issue`` (signed, registered),
``document.render_certificate`` / ``render_summary``, ``pact.product_footprint``, ``keys.load`` /
``ensure_demo``, ``signing.DocumentSigner``, ``verification.verify``.
"""
