"""Alembic environment: runs on the connection the application hands it (see bot.db.migrate)."""

from alembic import context

from bot.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through bot.db.migrate
    raise RuntimeError("run migrations through bot.db.migrate(), which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
