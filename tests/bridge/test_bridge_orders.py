"""Work-order repository on SQLite and the real PostgreSQL: fields, idempotence, repeat callers, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, text

from bridge.db import upgrade
from bridge.orders import OrderNotFound, OrderNumberTaken, OrderStore
from bridge.validation import FollowUp, OrderEdit, StatusUpdate

T0 = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
DB = tuple[str, str | None, Engine]


def entry(no: str, number: str = "13900000001", at: datetime = T0, **kw: object) -> dict[str, object]:
    e: dict[str, object] = {
        "order_no": no, "call_id": f"call-{no}", "caller_number": number, "call_time": at.isoformat(),
        "due_at": (at + timedelta(days=7)).isoformat(), "request_type": "投诉", "category_code": "noise",
        "category_name": "噪声扰民", "district": "朝阳区", "street": "望京街道", "address": "望京西路1号",
        "title": "夜间施工噪声", "content": "晚上十一点还在施工", "urgency": "normal", "contact_number": "13900000009",
        "confidential": True, "transcript": [["ivr", "请说出您的问题"], ["caller", "晚上十一点还在施工"]],
    }
    e.update(kw)
    return e


def test_migrations_create_all_tables_and_are_idempotent(db: DB) -> None:
    _url, _schema, eng = db
    upgrade(eng)  # second run: no-op
    names = set(inspect(eng).get_table_names())
    assert {"work_orders", "status_history", "transcripts", "call_records", "unreasonable_demands", "agents",
            "audit_log", "order_links", "alembic_version"} <= names
    if eng.dialect.name == "sqlite":
        with eng.connect() as c:
            assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_create_and_get_keeps_every_field(db: DB) -> None:
    store = OrderStore(db[2])
    c = store.create(entry("2026112701000001"))
    assert c.created and not c.repeat_caller
    o = store.get("2026112701000001")
    assert o["request_type"] == "投诉" and o["category_code"] == "noise" and o["district"] == "朝阳区"
    assert o["street"] == "望京街道" and o["confidential"] is True and o["contact_number"] == "13900000009"
    assert o["handling_mode"] == "转办" and o["status"] == "new" and o["channel"] == "phone"
    assert o["call_time"] == T0.isoformat() and o["due_at"] == (T0 + timedelta(days=7)).isoformat()
    assert [t["speaker"] for t in o["transcript"]] == ["ivr", "caller"]
    assert o["history"][0]["status"] == "new" and o["fu_contacted"] is None


def test_create_is_idempotent_by_order_number(db: DB) -> None:
    store = OrderStore(db[2])
    assert store.create(entry("2026112701000002")).created
    again = store.create(entry("2026112701000002", content="changed"))
    assert not again.created
    assert store.get("2026112701000002")["content"] == "晚上十一点还在施工"
    assert len(store.search(caller_number="13900000001")) == 1
    with pytest.raises(OrderNumberTaken):  # same number, another call: a node-id clash, never merged silently
        store.create(entry("2026112701000002", call_id="another-call"))


def test_repeat_caller_linked_within_window(db: DB) -> None:
    store = OrderStore(db[2], repeat_window_days=30)
    store.create(entry("A1", at=T0 - timedelta(days=40)))  # outside the window
    store.create(entry("A2", at=T0 - timedelta(days=3)))
    c = store.create(entry("A3", at=T0))
    assert c.repeat_caller and c.previous_orders == ("A2",)
    o = store.get("A3")
    assert o["repeat_caller"] is True and o["call_count"] == 2
    assert [p["order_no"] for p in o["previous_orders"]] == ["A2", "A1"]  # the agent sees the whole history
    other = store.create(entry("B1", number="13700000000"))
    assert not other.repeat_caller


def test_repeat_match_by_category(db: DB) -> None:
    store = OrderStore(db[2], repeat_match="number_category")
    store.create(entry("C1", at=T0 - timedelta(days=1), category_code="water"))
    assert not store.create(entry("C2")).repeat_caller
    assert store.create(entry("C3", at=T0 + timedelta(hours=1))).previous_orders == ("C2",)


def test_edits_status_and_followup_are_audited(db: DB) -> None:
    store = OrderStore(db[2])
    store.create(entry("D1"))
    later = T0 + timedelta(minutes=5)
    store.update("D1", OrderEdit(address="望京西路2号", handling_unit="朝阳区城管委"), "a1001", later)
    store.set_status("D1", StatusUpdate(status="dispatched", note="转城管"), "a1001", later)
    store.add_followup("D1", FollowUp(contacted=True, solved=False, satisfied=False, first_rating="不满意"),
                       "visitor", later)
    o = store.get("D1")
    assert o["address"] == "望京西路2号" and o["status"] == "dispatched"
    assert (o["fu_contacted"], o["fu_solved"], o["fu_satisfied"]) == (True, False, False)
    assert [h["status"] for h in o["history"]] == ["new", "dispatched"]
    audit = {(a["actor"], a["field"], a["old"], a["new"]) for a in store.audit("D1")}
    assert ("a1001", "address", "望京西路1号", "望京西路2号") in audit
    assert ("a1001", "status", "new", "dispatched") in audit
    assert ("visitor", "fu_solved", None, "False") in audit
    with pytest.raises(OrderNotFound):
        store.update("nope", OrderEdit(title="x"), "a1001", later)


def test_unreasonable_demand_recorded_with_rule(db: DB) -> None:
    store = OrderStore(db[2])
    store.create(entry("E1", disposition="decline", rule_id="fengshui", unreasonable=True, reason="不属于受理范围"))
    with db[2].connect() as c:
        row = c.execute(text("SELECT rule_id, reason FROM unreasonable_demands WHERE order_no='E1'")).one()
    assert tuple(row) == ("fengshui", "不属于受理范围")


def test_search_filters(db: DB) -> None:
    store = OrderStore(db[2])
    store.create(entry("F1", category_code="water"))
    store.create(entry("F2", number="13600000000", at=T0 + timedelta(hours=2)))
    store.mark("F2", "ivr", T0, status="assigned", agent_id="a1001")
    assert [o["order_no"] for o in store.search(agent_id="a1001")] == ["F2"]
    assert [o["order_no"] for o in store.search(category_code="water")] == ["F1"]
    assert [o["order_no"] for o in store.search(since=T0 + timedelta(hours=1))] == ["F2"]
    assert [o["order_no"] for o in store.search(status="new")] == ["F1"]
