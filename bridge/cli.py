"""``hotline db|agents|orders|journal|desk`` sub-commands (work orders and agents)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from typing import Any

from config import load_config
from config.bridge import BridgeConfig


def _cfg(args: argparse.Namespace) -> BridgeConfig:
    overrides: dict[str, Any] = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return load_config(BridgeConfig, "bridge", overrides=overrides)


def _engine(cfg: BridgeConfig) -> Any:
    from bridge.db import make_engine
    from bridge.handoff import _path

    url = cfg.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + str(_path(url[len("sqlite:///"):]))
    return make_engine(url, cfg.db_schema)


def _db_upgrade(args: argparse.Namespace) -> int:
    from bridge.db import upgrade

    eng = _engine(_cfg(args))
    upgrade(eng, args.revision)
    print(f"database at {args.revision}: {eng.url.render_as_string(hide_password=True)}")
    return 0


def _agents_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bridge.db import upgrade
    from bridge.models import Agent
    from bridge.orders import OrderStore

    cfg = _cfg(args)
    eng = _engine(cfg)
    upgrade(eng)
    rows = {a.id: {"id": a.id, "name": a.name, "sip_uri": a.sip_uri, "skills": a.skills, "source": "config",
                   "password": bool(a.password_hash)} for a in cfg.agents}
    with OrderStore(eng).sessions() as s:
        for r in s.scalars(select(Agent)):
            rows.setdefault(r.id, {"id": r.id, "name": r.name, "sip_uri": r.sip_uri,
                                   "skills": r.skills.split(",") if r.skills else [], "source": "database",
                                   "password": bool(r.password_hash)})
    for info in rows.values():
        print(json.dumps(info, ensure_ascii=False))
    return 0


def _agents_set(args: argparse.Namespace) -> int:
    from bridge.auth import hash_password
    from bridge.db import upgrade
    from bridge.models import Agent
    from bridge.orders import OrderStore

    eng = _engine(_cfg(args))
    upgrade(eng)
    password = args.password if args.password is not None else getpass.getpass(f"{args.agent_id} 的新密码: ")
    if len(password) < 6:
        print("hotline: password must have at least 6 characters", file=sys.stderr)
        return 2
    with OrderStore(eng).sessions() as s:
        row = s.get(Agent, args.agent_id) or Agent(id=args.agent_id, name=args.name or args.agent_id)
        if args.name:
            row.name = args.name
        if args.sip_uri:
            row.sip_uri = args.sip_uri
        if args.skills is not None:
            row.skills = args.skills
        row.password_hash = hash_password(password)
        s.add(row)
        s.commit()
    print(f"agent {args.agent_id} saved")
    return 0


def _orders(args: argparse.Namespace) -> int:
    from bridge.orders import OrderNotFound, OrderStore

    store = OrderStore(_engine(_cfg(args)))
    if args.order_no:
        try:
            print(json.dumps(store.get(args.order_no), ensure_ascii=False, indent=1))
        except OrderNotFound:
            print(f"hotline: no order {args.order_no}", file=sys.stderr)
            return 1
        return 0
    for o in store.search(status=args.status, caller_number=args.caller, limit=args.limit):
        print(json.dumps({k: o[k] for k in ("order_no", "call_time", "caller_number", "request_type",
                                            "category_code", "status", "agent_id", "due_at")}, ensure_ascii=False))
    return 0


class _NoCalls:
    """Engine and prompts stand-in for processes without a call engine (journal replay, back-office desk)."""

    async def dial(self, target: str, **_kw: Any) -> Any:
        from ivr.app import DialFailed

        raise DialFailed(0, "no call engine in this process")

    def bridge(self, a: Any, b: Any) -> Any:
        raise RuntimeError("no call engine in this process")

    def has(self, prompt_id: str) -> bool:
        return False

    def text(self, prompt_id: str, slots: Any = None) -> str:
        return prompt_id

    def audio(self, prompt_id: str, slots: Any = None) -> bytes:
        return b""

    def say(self, text: str) -> bytes:
        return b""


def _journal_replay(args: argparse.Namespace) -> int:
    from bridge.handoff import HotlineHandoff

    h = HotlineHandoff.from_config(_NoCalls(), _NoCalls(), _cfg(args))
    applied, left = h.journal.replay(h._apply)
    print(f"replayed {applied}, {left} left in {h.journal.path}")
    return 0 if left == 0 else 1


def _desk_serve(args: argparse.Namespace) -> int:
    """Desk + REST API without the call engine (e.g. a separate back-office node)."""
    from bridge.handoff import HotlineHandoff
    from bridge.web import start_desk

    async def main() -> None:
        from twisted.internet.asyncioreactor import AsyncioSelectorReactor

        h = HotlineHandoff.from_config(_NoCalls(), _NoCalls(), _cfg(args))
        await h.start()
        reactor = AsyncioSelectorReactor(asyncio.get_running_loop())  # no call engine here: the desk's own reactor
        srv = start_desk(h, reactor, host=args.host, port=args.port)
        print(f"agent desk: http://{args.host or h.cfg.desk.host}:{srv.port}/desk/", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this component's sub-commands to ``subparsers``."""
    db = subparsers.add_parser("db", help="work-order database")
    dbs = db.add_subparsers(dest="db_command", metavar="ACTION")
    up = dbs.add_parser("upgrade", help="run the Alembic migrations (also done by `hotline serve`)")
    up.add_argument("--revision", default="head")
    up.add_argument("--database-url")
    up.set_defaults(func=_db_upgrade)

    ag = subparsers.add_parser("agents", help="agents (坐席)")
    ags = ag.add_subparsers(dest="agents_command", metavar="ACTION")
    ls = ags.add_parser("list", help="agents from config and database")
    ls.add_argument("--database-url")
    ls.set_defaults(func=_agents_list)
    pw = ags.add_parser("passwd", help="add an agent or set an agent's desk password (scrypt)")
    pw.add_argument("agent_id")
    pw.add_argument("--name")
    pw.add_argument("--sip-uri")
    pw.add_argument("--skills", help="comma separated")
    pw.add_argument("--password", help="default: prompt")
    pw.add_argument("--database-url")
    pw.set_defaults(func=_agents_set)

    od = subparsers.add_parser("orders", help="list or show work orders")
    od.add_argument("order_no", nargs="?")
    od.add_argument("--status")
    od.add_argument("--caller")
    od.add_argument("--limit", type=int, default=20)
    od.add_argument("--database-url")
    od.set_defaults(func=_orders)

    jr = subparsers.add_parser("journal", help="orders journaled while the database was down")
    jrs = jr.add_subparsers(dest="journal_command", metavar="ACTION")
    rp = jrs.add_parser("replay", help="write journaled orders to the database now")
    rp.add_argument("--database-url")
    rp.set_defaults(func=_journal_replay)

    dk = subparsers.add_parser("desk", help="agent desk and order API")
    dks = dk.add_subparsers(dest="desk_command", metavar="ACTION")
    sv = dks.add_parser("serve", help="serve the desk + REST API without the call engine")
    sv.add_argument("--host")
    sv.add_argument("--port", type=int)
    sv.add_argument("--database-url")
    sv.set_defaults(func=_desk_serve)
