"""Exchange with other systems: PACT v3 and Catena-X PCF exports (``export.py``, ``catenax.py``),
shipment declarations (``shipment.py``), the EU CBAM communication (``cbam.py``).

Public: ``export.park_footprints`` / ``registry_footprints`` / ``write``, ``catenax.pcf_record``.
"""
