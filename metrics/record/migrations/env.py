"""Alembic environment of the meeting record: run in-process by ``metrics.record.migrate``.

The caller passes an open SQLAlchemy connection in ``config.attributes["connection"]``
(there is no alembic.ini; the URL never comes from a file).
"""

from __future__ import annotations

from alembic import context

from metrics.record.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI directly
    raise RuntimeError("run migrations with `python -m metrics record migrate`")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
