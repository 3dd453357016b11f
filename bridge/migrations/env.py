"""Alembic environment: run with a connection handed in by bridge.db.upgrade (config.attributes['connection'])."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bridge.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url") or "sqlite:///var/hotline.db"
        with create_engine(url).begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run()
