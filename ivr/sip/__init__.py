"""Sans-IO SIP core: messages, parser, transactions, dialogs, digest auth (RFC 3261)."""

from ivr.sip.dialog import Dialog, DialogStore, LocalEndpoint
from ivr.sip.errors import SipError, SipFramingError, SipParseError
from ivr.sip.headers import Headers, NameAddr, Via, canonical_name, parse_cseq, parse_name_addr, parse_via
from ivr.sip.message import Message, Request, Response, make_response, new_branch, new_call_id, new_tag
from ivr.sip.parser import StreamFramer, parse_message
from ivr.sip.transaction import TransactionLayer
from ivr.sip.tx_common import TimerConfig
from ivr.sip.uri import SipUri, parse_uri

__all__ = [
    "Dialog",
    "DialogStore",
    "Headers",
    "LocalEndpoint",
    "Message",
    "NameAddr",
    "Request",
    "Response",
    "SipError",
    "SipFramingError",
    "SipParseError",
    "SipUri",
    "StreamFramer",
    "TimerConfig",
    "TransactionLayer",
    "Via",
    "canonical_name",
    "make_response",
    "new_branch",
    "new_call_id",
    "new_tag",
    "parse_cseq",
    "parse_message",
    "parse_name_addr",
    "parse_uri",
    "parse_via",
]
