"""The UA core's call legs, found by dialog id (RFC 3261 §12): the one registry of calls, pure.

A leg is keyed by (Call-ID, our tag) — we choose our tag, so the key never changes, while the remote tag of
a UAC leg is only learnt from the 2xx.  An in-dialog request names its leg with the To tag (ours) and must
carry the remote's tag as From tag once that is known.  A request without a To tag comes from a caller that
has not seen our tag yet; it belongs to the UAS leg its INVITE made (same Call-ID and From tag).  Each leg
carries the shell's object for it (``handle``: the engine's :class:`~ivr.engine.call.EngineCall`), so the
shell keeps no registry of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ivr.engine.model import CallKey, CallState
from ivr.sip import Request, SipParseError


@dataclass
class Leg:
    state: CallState
    handle: object = None  # what the shell keeps for this leg; opaque to the core

    @property
    def key(self) -> CallKey:
        return self.state.key


class Legs:
    def __init__(self) -> None:
        self._legs: dict[CallKey, Leg] = {}
        self._by_call_id: dict[str, list[CallKey]] = {}

    def add(self, leg: Leg) -> None:
        key = leg.key
        if key not in self._legs:
            self._by_call_id.setdefault(key[0], []).append(key)
        self._legs[key] = leg

    def remove(self, key: CallKey) -> Leg | None:
        leg = self._legs.pop(key, None)
        if leg is not None:
            keys = self._by_call_id[key[0]]
            keys.remove(key)
            if not keys:
                del self._by_call_id[key[0]]
        return leg

    def get(self, key: CallKey) -> Leg | None:
        return self._legs.get(key)

    def has_call_id(self, call_id: str) -> bool:
        return call_id in self._by_call_id

    def for_request(self, request: Request) -> Leg | None:
        """The leg a request (or the INVITE a CANCEL / ACK / timeout refers to) belongs to, or None."""
        try:
            call_id, to_tag, from_tag = request.call_id, request.to_tag or "", request.from_tag or ""
        except SipParseError:
            return None
        if to_tag:
            leg = self._legs.get((call_id, to_tag))
            if leg is None:
                return None
            remote_tag = leg.state.dialog.remote_tag
            return leg if remote_tag in ("", from_tag) else None  # a UAC leg learns the remote tag from the 2xx
        return self.uas_leg(call_id, from_tag)

    def uas_leg(self, call_id: str, from_tag: str) -> Leg | None:
        """The leg answering the INVITE with this Call-ID and From tag."""
        for key in self._by_call_id.get(call_id, ()):
            leg = self._legs[key]
            if leg.state.role == "uas" and leg.state.dialog.remote_tag == from_tag:
                return leg
        return None

    def __contains__(self, key: object) -> bool:
        return key in self._legs

    def __len__(self) -> int:
        return len(self._legs)

    def __iter__(self) -> Iterator[Leg]:
        return iter(list(self._legs.values()))
