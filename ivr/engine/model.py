"""Data of the sans-IO call state machine: state, events in, actions out.

The UA core (:mod:`ivr.engine.core`) feeds what the transaction layer (:mod:`ivr.sip.transaction`) reports —
new requests, responses, ACKs, CANCELs, transaction timeouts — plus :class:`Tick` and application commands into
:func:`ivr.engine.callsm.step`; the actions say what to send (through the transaction layer), when to wake the
call up, what to do with the media stream and which events to give the application.  Retransmissions and
their absorption are the transaction layer's job.  Time is always passed in (``now``, seconds).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

from ivr.app import DigitEvent, HangupEvent, TransferResult
from ivr.sdp import Direction, SrtpKeys, SrtpMode
from ivr.sip import Request, Response
from ivr.sip.address import Endpoint
from ivr.sip.dialog import Dialog

Phase = Literal["early", "answering", "confirmed", "calling", "cancelling", "ending", "ended"]


@dataclass(frozen=True)
class LocalMedia:
    """Our side of the media: where our RTP socket is and what we can do."""

    host: str
    port: int
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    dtmf_payload_type: int = 101
    session_id: int = 0
    srtp: SrtpMode = "off"  # SDES SRTP for this peer (config srtp.mode / srtp.peers)
    srtp_key: bytes = b""  # our master key || salt for the call (30 bytes) when srtp is not off


@dataclass(frozen=True)
class MediaParams:
    """The negotiated stream (what the media session needs)."""

    remote_host: str
    remote_port: int
    codec: str
    payload_type: int
    dtmf_payload_type: int | None
    direction: Direction = "sendrecv"  # ours: sendonly = we send and do not receive (caller on hold: recvonly)
    clock_rate: int = 8000
    srtp: SrtpKeys | None = None  # SRTP keys when the stream is SRTP


@dataclass(frozen=True)
class Timers:
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    answer_delay: float = 0.0  # ring this long before the 200 OK
    refer_timeout: float = 32.0


@dataclass(frozen=True)
class OutRequest:
    """A request we sent (a client transaction) and still wait the final response for."""

    request: Request
    dest: Endpoint
    purpose: str  # invite, bye, refer, cancel


CallKey = tuple[str, str]
"""A call leg in the UA core: (Call-ID, our tag).  With the remote tag it makes the dialog id (RFC 3261 §12);
our tag alone tells apart two legs of one Call-ID (a call the engine places to itself, a re-sent INVITE)."""


@dataclass
class CallState:
    """One call leg.  ``dialog`` (:class:`ivr.sip.dialog.Dialog`) holds what RFC 3261 §12 calls the dialog state
    (Call-ID, tags, URIs, remote target, route set, CSeq numbers) and builds the in-dialog requests; the rest is
    the call's own: phase, pending INVITE, offer/answer, deadlines, outstanding client transactions."""

    phase: Phase
    dialog: Dialog
    local_contact: str
    local_media: LocalMedia
    timers: Timers = field(default_factory=Timers)
    remote_endpoint: Endpoint | None = None  # where the remote's requests came from (fallback target)
    invite: Request | None = None  # the INVITE we are answering (UAS) or sent (UAC)
    invite_source: Endpoint | None = None
    last_invite_response: Response | None = None
    awaiting_ack: bool = False  # our 2xx to an INVITE was sent, its ACK not seen yet
    answer_at: float | None = None  # UAS ringing: answer at this time
    dial_deadline: float | None = None  # UAC: CANCEL when not answered by then
    refer_deadline: float | None = None
    provisional_seen: bool = False
    last_ack: Request | None = None
    ack_dest: Endpoint | None = None
    sdp_version: int = 0
    last_sdp: bytes | None = None  # the last SDP we sent (o= version only moves when it changes)
    remote_sdp_offer_pending: bool = False  # we sent an offer in a 200 (re-INVITE without SDP)
    media: MediaParams | None = None
    out: dict[int, OutRequest] = field(default_factory=dict)  # by CSeq number (CANCEL keyed -n)
    refer_pending: bool = False
    auth_tries: int = 0
    credentials: tuple[str, str] | None = None  # (username, password) for UAC digest auth
    hangup_reason: str = ""
    caller_user: str = ""
    called_user: str = ""

    @property
    def role(self) -> Literal["uas", "uac"]:
        return self.dialog.role

    @property
    def call_id(self) -> str:
        return self.dialog.call_id

    @property
    def key(self) -> CallKey:
        return self.dialog.call_id, self.dialog.local_tag

    def clone(self) -> CallState:
        new = copy.copy(self)
        new.out = dict(self.out)
        new.dialog = copy.copy(self.dialog)
        new.dialog.route_set = list(self.dialog.route_set)
        return new


# ------------------------------------------------------------------ events in


@dataclass(frozen=True)
class Incoming:
    message: Request | Response
    source: Endpoint
    now: float


@dataclass(frozen=True)
class Tick:
    """Timers are not named per se: the machine re-checks all of its deadlines at ``now``."""

    now: float


@dataclass(frozen=True)
class CancelIn:
    """A CANCEL matched our pending INVITE server transaction (the layer already answered it 200)."""

    now: float


@dataclass(frozen=True)
class TxTimeout:
    """A transaction gave up: ``timer`` B/F (our request got no final response), L/H (our final never ACKed)."""

    request: Request
    timer: str
    now: float


@dataclass(frozen=True)
class HangupCmd:
    now: float
    reason: str = "normal"
    status: int = 480  # for a call not yet answered (UAS)


@dataclass(frozen=True)
class TransferCmd:
    now: float
    target: str


@dataclass(frozen=True)
class AnswerCmd:
    now: float


Event = Incoming | Tick | CancelIn | TxTimeout | HangupCmd | TransferCmd | AnswerCmd


# ------------------------------------------------------------------ actions out


@dataclass(frozen=True)
class Send:
    """Send through the transaction layer: a response on its server transaction (routed by the layer; ``dest``
    is where the request came from), a request as a new client transaction to ``dest``, a 2xx ACK statelessly."""

    message: Request | Response
    dest: Endpoint


@dataclass(frozen=True)
class WakeAt:
    """Call :func:`step` with a :class:`Tick` at ``at`` (replaces any earlier wake-up of this call)."""

    at: float | None


@dataclass(frozen=True)
class StartMedia:
    params: MediaParams


@dataclass(frozen=True)
class UpdateMedia:
    params: MediaParams


@dataclass(frozen=True)
class StopMedia:
    pass


@dataclass(frozen=True)
class Answered:
    """A UAC leg was answered (2xx)."""


@dataclass(frozen=True)
class DialFailure:
    status: int
    reason: str


@dataclass(frozen=True)
class Deliver:
    event: DigitEvent | HangupEvent | TransferResult


@dataclass(frozen=True)
class Terminated:
    """The call is over and has nothing pending; the core forgets it."""


Action = Send | WakeAt | StartMedia | UpdateMedia | StopMedia | Answered | DialFailure | Deliver | Terminated
