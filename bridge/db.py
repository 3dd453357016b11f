"""Database engine (SQLite WAL by default, PostgreSQL supported) and programmatic Alembic migrations."""

from __future__ import annotations

import logging
import re
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_SCHEMAS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def make_engine(url: str, schema: str | None = None, *, connect_timeout: int = 3) -> Engine:
    """Engine for ``url``; SQLite files get WAL + busy timeout, PostgreSQL gets ``schema`` as search_path."""
    u = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "future": True}
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
        engine = create_engine(u, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": connect_timeout}
    if schema:
        if not _SCHEMA_RE.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        connect_args["options"] = f"-csearch_path={schema}"
    kwargs["connect_args"] = connect_args
    kwargs["pool_size"] = 5
    kwargs["pool_timeout"] = connect_timeout
    engine = create_engine(u, **kwargs)
    if schema:
        _SCHEMAS[engine] = schema  # created by upgrade(): building an engine never connects
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` on ``engine`` (idempotent)."""
    schema = _SCHEMAS.get(engine)
    if schema:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    log.info("database migrated to %s (%s)", revision, engine.url.render_as_string(hide_password=True))


def drop_schema(engine: Engine, schema: str) -> None:
    """Test helper: remove a PostgreSQL schema and everything in it."""
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
