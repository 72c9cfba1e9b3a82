"""Alembic's entry point: migrations run on the connection the catalog hands over, in
the transaction the catalog has opened (see archive/catalog/schema.py)."""

from alembic import context

context.configure(connection=context.config.attributes["connection"], target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
