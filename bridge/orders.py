"""Work-order repository (synchronous SQLAlchemy; async callers use ``asyncio.to_thread``).

Every change to an order after creation goes through :meth:`OrderStore.update`, :meth:`set_status` or
:meth:`add_followup`, which write one audit row per changed field (who, when, field, old, new).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bridge.models import AuditEntry, CallRecord, OrderLink, StatusChange, TranscriptLine, UnreasonableRecord, WorkOrder
from bridge.validation import FollowUp, OrderEdit, StatusUpdate

_DRAFT_FIELDS = ("caller_name", "caller_number", "contact_number", "confidential", "request_type", "disposition",
                 "category_code", "category_name", "district", "street", "address", "incident_time", "title",
                 "content", "urgency", "callback_requested", "rule_id", "flow_version")


class OrderNotFound(LookupError):
    pass


class OrderNumberTaken(ValueError):
    """The number exists for another call: two IVR nodes share a node id (a replay of the same call is fine)."""


@dataclass(frozen=True)
class Created:
    order_no: str
    due_at: datetime | None
    repeat_caller: bool
    previous_orders: tuple[str, ...]
    created: bool  # False when the order number already existed (idempotent replay)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return _dt(v).isoformat()
    return str(v)


def order_dict(o: WorkOrder) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in WorkOrder.__table__.columns:
        v = getattr(o, col.name)
        out[col.name] = _dt(v).isoformat() if isinstance(v, datetime) else v
    return out


class OrderStore:
    def __init__(self, engine: Engine, *, repeat_window_days: int = 30, repeat_match: str = "number") -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.repeat_window_days = repeat_window_days
        self.repeat_match = repeat_match

    # -- creation ---------------------------------------------------------------------------------------------
    def _previous(self, s: Session, entry: Mapping[str, Any], now: datetime) -> list[WorkOrder]:
        since = _dt(now) - timedelta(days=self.repeat_window_days)
        q = select(WorkOrder).where(WorkOrder.caller_number == entry["caller_number"], WorkOrder.call_time >= since,
                                    WorkOrder.order_no != entry["order_no"])
        if self.repeat_match == "number_category" and entry.get("category_code"):
            q = q.where(WorkOrder.category_code == entry["category_code"])
        if self.repeat_match == "number_address" and entry.get("address"):
            q = q.where(WorkOrder.address == entry["address"])
        return list(s.scalars(q.order_by(WorkOrder.call_time.desc()).limit(20)))

    def create(self, entry: Mapping[str, Any], actor: str = "ivr") -> Created:
        """Insert the order described by a journal-style ``entry`` (draft fields + order_no, call_time, due_at).

        Idempotent by order number: an existing order is returned unchanged.
        """
        call_time = _dt(entry["call_time"])
        due = _dt(entry["due_at"]) if entry.get("due_at") else None
        with self.sessions() as s:
            existing = s.scalar(select(WorkOrder).where(WorkOrder.order_no == entry["order_no"]))
            if existing is not None:
                if existing.call_id != entry["call_id"]:
                    raise OrderNumberTaken(f"order number {existing.order_no} already used by call {existing.call_id}")
                links = s.scalars(select(OrderLink.previous_order_no).where(OrderLink.order_no == existing.order_no))
                return Created(existing.order_no, existing.due_at, existing.repeat_caller, tuple(links), False)
            prev = self._previous(s, entry, call_time)
            o = WorkOrder(order_no=entry["order_no"], call_time=call_time, call_id=entry["call_id"], due_at=due,
                          created_at=call_time, updated_at=call_time, repeat_caller=bool(prev),
                          call_count=1 + len(prev), recording_ref=entry.get("recording_ref"),
                          handling_mode="直办" if entry.get("handled_directly") else "转办",
                          redirect_channel=entry.get("channel"),
                          status="closed" if entry.get("unreasonable") else
                          "callback_pending" if entry.get("callback_requested") else "new")
            for f in _DRAFT_FIELDS:
                if f in entry and entry[f] is not None:
                    setattr(o, f, entry[f])
            s.add(o)
            s.flush()
            s.add(StatusChange(order_id=o.id, status=o.status, at=call_time, by=actor, note="created"))
            for i, (speaker, text) in enumerate(entry.get("transcript") or []):
                s.add(TranscriptLine(order_id=o.id, call_id=o.call_id, seq=i, speaker=str(speaker), text=str(text)))
            for p in prev:
                s.add(OrderLink(order_no=o.order_no, previous_order_no=p.order_no, reason=self.repeat_match))
            s.add(CallRecord(call_id=o.call_id, caller_number=o.caller_number, started_at=call_time,
                             order_no=o.order_no, recording_ref=o.recording_ref))
            if entry.get("unreasonable"):
                s.add(UnreasonableRecord(order_no=o.order_no, call_id=o.call_id, caller_number=o.caller_number,
                                         rule_id=entry.get("rule_id") or "unspecified",
                                         reason=entry.get("reason") or "", content=o.content, created_at=call_time))
            s.add(AuditEntry(at=call_time, actor=actor, entity="order", entity_id=o.order_no, field="*",
                             old=None, new="created"))
            try:
                s.commit()
            except IntegrityError:  # another process replayed the same order number concurrently
                s.rollback()
                return self.create(entry, actor)
            return Created(o.order_no, due, bool(prev), tuple(p.order_no for p in prev), True)

    # -- reading ----------------------------------------------------------------------------------------------
    def get(self, order_no: str) -> dict[str, Any]:
        with self.sessions() as s:
            o = s.scalar(select(WorkOrder).where(WorkOrder.order_no == order_no))
            if o is None:
                raise OrderNotFound(order_no)
            d = order_dict(o)
            d["history"] = [{"status": h.status, "at": _dt(h.at).isoformat(), "by": h.by, "note": h.note}
                            for h in o.history]
            d["transcript"] = [{"speaker": t.speaker, "text": t.text} for t in o.transcript]
            d["previous_orders"] = self._history_of(s, o)
            return d

    def _history_of(self, s: Session, o: WorkOrder) -> list[dict[str, Any]]:
        rows = s.scalars(select(WorkOrder).where(WorkOrder.caller_number == o.caller_number,
                                                 WorkOrder.order_no != o.order_no)
                         .order_by(WorkOrder.call_time.desc()).limit(20))
        return [{"order_no": r.order_no, "call_time": _dt(r.call_time).isoformat(), "title": r.title,
                 "category_name": r.category_name, "status": r.status, "request_type": r.request_type}
                for r in rows]

    def caller_summary(self, caller_number: str) -> tuple[int, list[str]]:
        with self.sessions() as s:
            n = s.scalar(select(func.count()).select_from(WorkOrder).where(WorkOrder.caller_number == caller_number))
            nos = s.scalars(select(WorkOrder.order_no).where(WorkOrder.caller_number == caller_number)
                            .order_by(WorkOrder.call_time.desc()).limit(20))
            return int(n or 0), list(nos)

    def search(self, *, status: str | None = None, agent_id: str | None = None, caller_number: str | None = None,
             category_code: str | None = None, since: datetime | None = None, until: datetime | None = None,
             limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        q = select(WorkOrder)
        if status:
            q = q.where(WorkOrder.status == status)
        if agent_id:
            q = q.where(WorkOrder.agent_id == agent_id)
        if caller_number:
            q = q.where(WorkOrder.caller_number == caller_number)
        if category_code:
            q = q.where(WorkOrder.category_code == category_code)
        if since:
            q = q.where(WorkOrder.call_time >= since)
        if until:
            q = q.where(WorkOrder.call_time < until)
        q = q.order_by(WorkOrder.call_time.desc(), WorkOrder.id.desc()).limit(limit).offset(offset)
        with self.sessions() as s:
            return [order_dict(o) for o in s.scalars(q)]

    def audit(self, order_no: str) -> list[dict[str, Any]]:
        with self.sessions() as s:
            rows = s.scalars(select(AuditEntry).where(AuditEntry.entity_id == order_no).order_by(AuditEntry.id))
            return [{"at": _dt(a.at).isoformat(), "actor": a.actor, "field": a.field, "old": a.old, "new": a.new}
                    for a in rows]

    # -- changes (audited) ------------------------------------------------------------------------------------
    def _change(self, order_no: str, values: Mapping[str, Any], actor: str, now: datetime,
                status: tuple[str, str | None] | None = None) -> dict[str, Any]:
        now = _dt(now)
        with self.sessions() as s:
            o = s.scalar(select(WorkOrder).where(WorkOrder.order_no == order_no).with_for_update())
            if o is None:
                raise OrderNotFound(order_no)
            for field, new in values.items():
                old = getattr(o, field)
                if old == new:
                    continue
                setattr(o, field, new)
                s.add(AuditEntry(at=now, actor=actor, entity="order", entity_id=order_no, field=field,
                                 old=_text(old), new=_text(new)))
            if status is not None:
                s.add(StatusChange(order_id=o.id, status=status[0], at=now, by=actor, note=status[1]))
            if "transfer_outcome" in values:  # keep the call record in step with the transfer
                for rec in s.scalars(select(CallRecord).where(CallRecord.order_no == order_no)):
                    rec.outcome = values["transfer_outcome"]
                    rec.agent_id = values.get("agent_id", rec.agent_id)
            o.updated_at = now
            s.commit()
            return order_dict(o)

    def update(self, order_no: str, edit: OrderEdit, actor: str, now: datetime) -> dict[str, Any]:
        values = edit.model_dump(exclude_unset=True)
        for required in ("content", "request_type", "urgency", "handling_mode", "confidential"):
            if values.get(required, "") is None:  # null for a required field means "unchanged"
                del values[required]
        return self._change(order_no, values, actor, now)

    def set_status(self, order_no: str, upd: StatusUpdate, actor: str, now: datetime) -> dict[str, Any]:
        return self._change(order_no, {"status": upd.status}, actor, now, status=(upd.status, upd.note))

    def mark(self, order_no: str, actor: str, now: datetime, *, status: str | None = None, note: str | None = None,
             **fields: Any) -> dict[str, Any]:
        """Internal changes by the IVR (assignment, transfer outcome), audited like any edit."""
        values = dict(fields)
        if status is not None:
            values["status"] = status
        return self._change(order_no, values, actor, now, status=(status, note) if status else None)

    def add_followup(self, order_no: str, fu: FollowUp, actor: str, now: datetime) -> dict[str, Any]:
        values = {"fu_contacted": fu.contacted, "fu_solved": fu.solved, "fu_satisfied": fu.satisfied,
                  "fu_note": fu.note, "fu_at": now}
        if fu.first_rating is not None:
            values["fu_first_rating"] = fu.first_rating
        if fu.final_rating is not None:
            values["fu_final_rating"] = fu.final_rating
        return self._change(order_no, values, actor, now)


def _dt(v: Any) -> datetime:
    """Stored times are UTC (SQLite keeps no offset; naive values read back are UTC)."""
    d = v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)
