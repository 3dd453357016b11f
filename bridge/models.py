"""SQLAlchemy 2 models of the work-order database (schema owned by the Alembic migrations in bridge/migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

REQUEST_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
URGENCIES = ("normal", "urgent", "emergency")
STATUSES = ("new", "assigned", "in_progress", "handled_directly", "dispatched", "callback_pending",
            "closed", "abandoned")
RATINGS = ("满意", "基本满意", "不满意")


class Base(DeclarativeBase):
    pass


class WorkOrder(Base):
    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    channel: Mapped[str] = mapped_column(String(16), default="phone")
    call_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    call_id: Mapped[str] = mapped_column(String(128), index=True)
    recording_ref: Mapped[str | None] = mapped_column(String(256))
    caller_name: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(32), index=True)
    contact_number: Mapped[str | None] = mapped_column(String(32))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    repeat_caller: Mapped[bool] = mapped_column(Boolean, default=False)  # 老户
    call_count: Mapped[int] = mapped_column(Integer, default=1)
    request_type: Mapped[str] = mapped_column(String(8))
    disposition: Mapped[str] = mapped_column(String(16), default="accept")
    category_code: Mapped[str | None] = mapped_column(String(64), index=True)
    category_name: Mapped[str | None] = mapped_column(String(64))
    district: Mapped[str | None] = mapped_column(String(64))
    street: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(256))
    incident_time: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(128))
    content: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    handling_mode: Mapped[str] = mapped_column(String(8), default="转办")  # 直办 / 转办
    direct_result: Mapped[str | None] = mapped_column(Text)  # 直办 answer given in the call
    handling_unit: Mapped[str | None] = mapped_column(String(128))
    first_contact_owner: Mapped[str | None] = mapped_column(String(128))  # 首接负责单位
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(24), default="new", index=True)
    agent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    callback_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    transfer_outcome: Mapped[str | None] = mapped_column(String(32))
    rule_id: Mapped[str | None] = mapped_column(String(64))
    redirect_channel: Mapped[str | None] = mapped_column(String(32))
    flow_version: Mapped[str | None] = mapped_column(String(32))
    # 回访 (follow-up), kept apart: 响应 / 解决 / 满意
    fu_contacted: Mapped[bool | None] = mapped_column(Boolean)
    fu_solved: Mapped[bool | None] = mapped_column(Boolean)
    fu_satisfied: Mapped[bool | None] = mapped_column(Boolean)
    fu_first_rating: Mapped[str | None] = mapped_column(String(8))
    fu_final_rating: Mapped[str | None] = mapped_column(String(8))
    fu_note: Mapped[str | None] = mapped_column(Text)
    fu_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    history: Mapped[list[StatusChange]] = relationship(order_by="StatusChange.id", cascade="all, delete-orphan")
    transcript: Mapped[list[TranscriptLine]] = relationship(order_by="TranscriptLine.seq",
                                                           cascade="all, delete-orphan")


class OrderLink(Base):
    """老户: this order links to an earlier order of the same caller."""

    __tablename__ = "order_links"
    __table_args__ = (UniqueConstraint("order_no", "previous_order_no"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_no: Mapped[str] = mapped_column(ForeignKey("work_orders.order_no", ondelete="CASCADE"), index=True)
    previous_order_no: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32), default="same_number")


class StatusChange(Base):
    __tablename__ = "status_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class TranscriptLine(Base):
    __tablename__ = "transcripts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[str] = mapped_column(String(128), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)


class CallRecord(Base):
    __tablename__ = "call_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(128), index=True)
    caller_number: Mapped[str] = mapped_column(String(32), index=True)
    called: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    order_no: Mapped[str | None] = mapped_column(String(32), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    recording_ref: Mapped[str | None] = mapped_column(String(256))


class UnreasonableRecord(Base):
    """不合理诉求: declined demand with the rule cited (for assessment appeals)."""

    __tablename__ = "unreasonable_demands"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    call_id: Mapped[str] = mapped_column(String(128))
    caller_number: Mapped[str] = mapped_column(String(32), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="recorded")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    sip_uri: Mapped[str | None] = mapped_column(String(256))
    skills: Mapped[str] = mapped_column(String(512), default="")  # comma separated
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    field: Mapped[str] = mapped_column(String(64))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
