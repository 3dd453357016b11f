"""What the flows hand to the work-order and agent side.

The flow collects an :class:`OrderDraft`; :meth:`Handoff.create_order` commits it (or journals it durably when
the database is down) **before** any transfer starts; :meth:`Handoff.warm_transfer` then brings an agent in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ivr.app import Call

RequestType = Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"]
Disposition = Literal["emergency", "accept", "redirect", "decline", "clarify"]


@dataclass
class OrderDraft:
    call_id: str
    caller_number: str
    disposition: Disposition = "accept"
    request_type: RequestType = "求助"
    category_code: str | None = None  # from flows policy categories
    category_name: str | None = None
    urgency: Literal["normal", "urgent", "emergency"] = "normal"
    contact_number: str | None = None
    caller_name: str | None = None
    confidential: bool = False
    district: str | None = None
    street: str | None = None
    address: str | None = None
    incident_time: str | None = None  # as the caller said it, normalized
    title: str | None = None
    content: str = ""  # the caller's words
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (speaker "caller"/"ivr", text)
    rule_id: str | None = None  # negative-list rule for decline / redirect
    channel: str | None = None  # redirect / emergency channel id (shared/domain.md)
    handled_directly: bool = False  # 直办 (answered in the call) vs 转办
    callback_requested: bool = False
    flow_version: str | None = None


@dataclass(frozen=True)
class OrderRef:
    order_no: str
    due_at: str | None  # ISO 8601
    journaled: bool  # True when written to the local journal because the database was unreachable
    repeat_caller: bool = False
    previous_orders: tuple[str, ...] = ()


TransferStatus = Literal["bridged", "no_agent", "caller_hung_up", "agent_hung_up", "failed"]


@dataclass(frozen=True)
class TransferOutcome:
    status: TransferStatus
    agent_id: str | None = None
    detail: str = ""


class Handoff(Protocol):
    async def create_order(self, draft: OrderDraft) -> OrderRef: ...

    async def record_unreasonable(self, draft: OrderDraft) -> OrderRef:
        """Record a declined demand as 不合理诉求 with the rule cited (no dispatch)."""
        ...

    async def warm_transfer(self, call: Call, order: OrderRef, draft: OrderDraft) -> TransferOutcome:
        """Hold audio to the caller, dial an agent, whisper, screen pop, bridge; returns when bridged or failed.

        On ``bridged`` the call stays up until one side hangs up; the caller is never left in silence.
        """
        ...

    async def wait_done(self, call_id: str) -> None:
        """After ``bridged``: return when the transfer is over (both legs gone, or the retry / callback offer made
        to the caller after the agent hung up first).  The caller's events belong to the hand-off until then."""
        ...
