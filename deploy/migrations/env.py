"""Alembic environment: runs on the connection handed over by `shared.migrations`.

Each service keeps its tables in its own PostgreSQL schema (first on the connection's
search_path), so revisions use unqualified names and the version table lands there too.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
