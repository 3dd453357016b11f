"""Shared fixtures: real services (PostgreSQL, Redis) when present, fakes in each test module."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# tests start `hotline serve` / the desk on the demo config, as `./install.sh run` does (bridge.web.check_demo)
os.environ.setdefault("HOTLINE_DEMO", "1")
