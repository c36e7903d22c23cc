"""The certificate registry: issuer settings, the certificate record and its numbering, the hash-chained
audit log, the database schema and its Alembic migrations. It neither renders nor signs.

Public: ``records.Registry`` (open, reserve, record, revoke, export), ``records.parse_number`` /
``format_number``, ``issuer.load_issuer``, ``certificate.draft`` / ``valid_until``, ``audit.append`` /
``audit.verify``.
"""
