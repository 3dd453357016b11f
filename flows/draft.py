"""From the flow's variables to the work-order draft and prompt slots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, cast, get_args

from bridge.api import Disposition, OrderDraft, RequestType

UNSAID = "未说明"
_REQUEST_TYPES: tuple[str, ...] = get_args(RequestType)
_DISPOSITIONS: tuple[str, ...] = get_args(Disposition)
Urgency = Literal["normal", "urgent", "emergency"]


class _Defaulting(dict[str, str]):
    missing = UNSAID

    def __missing__(self, key: str) -> str:
        return self.missing


def fill(template: str, variables: Mapping[str, str], missing: str = UNSAID) -> str:
    """``{name}`` placeholders filled from the variables; unknown or empty ones read ``missing`` (未说明)."""
    values = _Defaulting({k: v for k, v in variables.items() if v})
    values.missing = missing
    try:
        return template.format_map(values)
    except (ValueError, IndexError):
        return template


def build_draft(variables: Mapping[str, str], transcript: tuple[tuple[str, str], ...], *, call_id: str,
                caller: str, flow_version: str, urgency: Urgency | None = None) -> OrderDraft:
    v = variables
    disposition = v.get("disposition") if v.get("disposition") in _DISPOSITIONS else "accept"
    request_type = v.get("request_type") if v.get("request_type") in _REQUEST_TYPES else "求助"
    if urgency is None:
        urgency = "emergency" if disposition == "emergency" else "normal"
    content_parts = [v.get("utterance", ""), v.get("description", "")]
    content = "；".join(p for p in content_parts if p)
    category = v.get("category") or None
    return OrderDraft(
        call_id=call_id,
        caller_number=caller,
        disposition=cast(Disposition, disposition),
        request_type=cast(RequestType, request_type),
        category_code=category,
        category_name=v.get("category_name") or None,
        urgency=urgency,
        contact_number=v.get("phone") or None,
        caller_name=v.get("name") or None,
        district=v.get("district") or None,
        street=v.get("street") or None,
        address=v.get("address") or None,
        incident_time=v.get("time") or None,
        title=_title(v),
        content=content or v.get("keypad_summary", "") or "来电人未说明诉求（转人工）",
        transcript=list(transcript),
        rule_id=v.get("rule") or None,
        channel=v.get("channel") or None,
        handled_directly=disposition in ("redirect", "decline"),
        callback_requested=v.get("callback") == "yes",
        flow_version=flow_version,
    )


def _title(v: Mapping[str, str]) -> str | None:
    pieces = [v.get("category_name", ""), v.get("request_type", "")]
    title = "".join(p for p in pieces if p)
    return title or None
