"""The park data format (DESIGN §2): pydantic models, loading and validation, units, flow aliases.

Public: ``loading.load_park`` (folder → ``models.ParkData``, or ``errors.ParkDataError`` listing every
located ``errors.Problem``), ``loading.transport_tkm``, ``units.factor`` / ``units.dimension``,
``flows.ALIASES``. Nothing here imports Brightway.
"""
