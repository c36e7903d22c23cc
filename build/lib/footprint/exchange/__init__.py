"""Exchange with other systems: PACT v3 and Catena-X PCF exports (``export.py``, ``catenax.py``),
shipment declarations (``shipment.py``), the EU CBAM communication (``cbam.py``), and what a PACT v3
host serves and how it answers events (``pact_host.py``, used by ``footprint serve``).

Public: ``export.park_footprints`` / ``registry_footprints`` / ``write``, ``catenax.pcf_record``,
``pact_host.Criteria`` / ``parse_event`` / ``reply``.
"""
