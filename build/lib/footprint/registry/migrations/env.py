"""Alembic environment: migrations always run on a connection that ``footprint.registry.records`` passes in.

Run from the command line with ``alembic -c footprint/registry/migrations/alembic.ini`` only for authoring
new revisions; footprint itself upgrades programmatically under a lock (see ``registry.open``).
"""

from __future__ import annotations

from alembic import context

from footprint.registry.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # authoring: alembic revision --autogenerate against a URL given with -x url=...
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///registry-authoring.sqlite")
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
