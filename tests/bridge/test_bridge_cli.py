"""`hotline db upgrade`, `hotline agents passwd|list`, `hotline orders` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def hotline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOTLINE_BRIDGE__DATABASE_URL=f"sqlite:///{tmp_path / 'h.db'}",
               HOTLINE_BRIDGE__JOURNAL_PATH=str(tmp_path / "orders.journal"),
               HOTLINE_BRIDGE__SEQUENCE_DIR=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "hotline", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_db_upgrade_agents_and_orders(tmp_path: Path) -> None:
    r = hotline(tmp_path, "db", "upgrade")
    assert r.returncode == 0 and "database at head" in r.stdout, r.stderr
    r = hotline(tmp_path, "agents", "passwd", "a2001", "--name", "赵六", "--password", "short")
    assert r.returncode == 2 and "at least 6" in r.stderr
    r = hotline(tmp_path, "agents", "passwd", "a2001", "--name", "赵六", "--password", "secret-2001",
                "--sip-uri", "sip:a2001@127.0.0.1:5090")
    assert r.returncode == 0, r.stderr
    listed = [json.loads(line) for line in hotline(tmp_path, "agents", "list").stdout.splitlines()]
    mine = next(a for a in listed if a["id"] == "a2001")
    assert mine["name"] == "赵六" and mine["password"] and mine["source"] == "database"
    r = hotline(tmp_path, "orders", "20990101010000001")
    assert r.returncode == 1 and "no order" in r.stderr
    assert hotline(tmp_path, "orders").returncode == 0


def test_journal_replay_command(tmp_path: Path) -> None:
    entry = {"kind": "order", "order_no": "2026112701000042", "call_id": "c42", "caller_number": "13900000042",
             "call_time": "2026-11-27T02:00:00+00:00", "due_at": "2026-12-04T09:00:00+00:00", "request_type": "求助",
             "content": "数据库停机时记录的工单"}
    (tmp_path / "orders.journal").write_text(json.dumps(entry, ensure_ascii=False) + "\n", encoding="utf-8")
    r = hotline(tmp_path, "journal", "replay")
    assert r.returncode == 0 and "replayed 1, 0 left" in r.stdout, r.stderr
    shown = json.loads(hotline(tmp_path, "orders", "2026112701000042").stdout)
    assert shown["content"] == "数据库停机时记录的工单" and shown["caller_number"] == "13900000042"
