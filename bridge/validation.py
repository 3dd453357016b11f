"""Validated input for order edits, status changes and 回访 results (desk and REST API share these)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge.models import STATUSES

Status = Literal["new", "assigned", "in_progress", "handled_directly", "dispatched", "callback_pending",
                 "closed", "abandoned"]
assert set(Status.__args__) == set(STATUSES)  # type: ignore[attr-defined]


class OrderEdit(BaseModel):
    """Fields an agent may edit; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    caller_name: str | None = Field(default=None, max_length=64)
    contact_number: str | None = Field(default=None, pattern=r"^[0-9+\-]{3,20}$")
    confidential: bool | None = None
    request_type: Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"] | None = None
    category_code: str | None = Field(default=None, pattern=r"^[a-z_]{1,64}$")
    category_name: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    street: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=256)
    title: str | None = Field(default=None, max_length=128)
    content: str | None = Field(default=None, max_length=20000)
    urgency: Literal["normal", "urgent", "emergency"] | None = None
    handling_mode: Literal["直办", "转办"] | None = None
    direct_result: str | None = Field(default=None, max_length=20000)
    handling_unit: str | None = Field(default=None, max_length=128)
    first_contact_owner: str | None = Field(default=None, max_length=128)


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status
    note: str | None = Field(default=None, max_length=2000)


class FollowUp(BaseModel):
    """回访: contacted / solved / satisfied are kept apart (响应率, 解决率, 满意率)."""

    model_config = ConfigDict(extra="forbid")
    contacted: bool
    solved: bool | None = None
    satisfied: bool | None = None
    first_rating: Literal["满意", "基本满意", "不满意"] | None = None
    final_rating: Literal["满意", "基本满意", "不满意"] | None = None
    note: str | None = Field(default=None, max_length=2000)


class DirectResult(BaseModel):
    """直办: the agent answered in the call."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    result: str = Field(min_length=1, max_length=20000)
