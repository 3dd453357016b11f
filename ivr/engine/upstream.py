"""The IVR registers to a PBX as an extension: REGISTER with digest auth, refreshed before expiry. Sans-IO.

``start`` / ``on_response`` / ``on_timeout`` / ``on_tick`` take ``now`` and return the REGISTERs to send (as
client transactions of the transaction layer, which retransmits them); ``next_at`` says when to call
``on_tick``.  A failed or unanswered registration is retried after ``retry_after`` seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from config.ivr import UpstreamRegistration
from ivr.engine.sipmsg import uri_dest
from ivr.sip import Headers, Request, Response, SipParseError, new_branch, new_call_id, new_tag, parse_name_addr
from ivr.sip.address import Endpoint
from ivr.sip.auth import authorize_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    request: Request
    dest: Endpoint


class UpstreamRegistrar:
    def __init__(
        self,
        config: UpstreamRegistration,
        contact: str,
        local_host: str,
        local_port: int,
        retry_after: float = 30.0,
        t1: float = 0.5,
    ) -> None:
        self.config = config
        self.contact = contact
        self.local = (local_host, local_port)
        self.retry_after = retry_after
        self.dest = uri_dest(config.registrar) or Endpoint("udp", "127.0.0.1", 5060)
        self.targets = [self.dest]  # RFC 3263 targets of the registrar, best first (use_targets)
        self.call_id = new_call_id(local_host)
        self.tag = new_tag()
        self.cseq = 0
        self.registered = False
        self.expires_at: float | None = None
        self.granted = 0
        self.next_at: float | None = None
        self.pending: Request | None = None
        self.stopped = False
        self.auth_tried = False
        self.failures = 0
        self.last_status = 0

    def _register(self, now: float, expires: int | None = None) -> list[Outgoing]:
        self.cseq += 1
        transport = self.dest.sip_transport
        headers = Headers()
        headers.add("Via", f"SIP/2.0/{transport} {self.local[0]}:{self.local[1]};branch={new_branch()};rport")
        headers.add("Max-Forwards", "70")
        headers.add("From", f"<{self.config.aor}>;tag={self.tag}")
        headers.add("To", f"<{self.config.aor}>")
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{self.cseq} REGISTER")
        headers.add("Contact", self.contact)
        headers.add("Expires", str(expires if expires is not None else self.config.expires))
        headers.add("User-Agent", "hotline12345")
        registrar_uri = self.config.registrar.split(";")[0]
        return self._send(Request("REGISTER", registrar_uri, headers), now)

    def _send(self, request: Request, now: float) -> list[Outgoing]:
        self.pending = request
        self.next_at = None  # the transaction layer reports the response or the timeout
        return [Outgoing(request, self.dest)]

    def start(self, now: float) -> list[Outgoing]:
        self.auth_tried = False
        return self._register(now)

    def unregister(self, now: float) -> list[Outgoing]:
        """REGISTER with Expires: 0 (on shutdown); no refresh afterwards."""
        self.registered = False
        self.expires_at = None
        self.stopped = True
        return self._register(now, expires=0)

    def on_response(self, resp: Response, now: float) -> list[Outgoing]:
        pending = self.pending
        try:
            if pending is None or resp.call_id != self.call_id or resp.cseq != pending.cseq:
                return []
        except SipParseError:
            return []
        if resp.is_provisional:
            return []
        self.pending = None
        self.last_status = resp.status
        if self.stopped:
            return []
        if resp.status in (401, 407) and not self.auth_tried:
            retry = authorize_request(pending, resp, self.config.username, self.config.password)
            if retry is not None:
                self.auth_tried = True
                self.cseq = retry.cseq[0]
                return self._send(retry, now)
        if resp.is_success:
            self.granted = self._granted(resp)
            self.registered = True
            self.failures = 0
            self.expires_at = now + self.granted
            self.next_at = now + self.granted * self.config.refresh_margin
            self.auth_tried = False
            log.info("registered to %s for %d s", self.config.registrar, self.granted)
            return []
        return self._failed(now, f"{resp.status} {resp.reason}")

    def _granted(self, resp: Response) -> int:
        for value in resp.headers.get_all("Contact"):
            try:
                addr = parse_name_addr(value)
            except SipParseError:
                continue
            if addr.uri in self.contact and (addr.params.get("expires") or "").isdigit():
                return max(1, int(addr.params["expires"] or 0))
        expires = resp.headers.get("Expires") or ""
        return max(1, int(expires)) if expires.isdigit() else self.config.expires

    def _failed(self, now: float, why: str) -> list[Outgoing]:
        self.failures += 1
        self.auth_tried = False
        if self.expires_at is None or now >= self.expires_at:
            self.registered = False
        self.next_at = now + self.retry_after
        log.warning("registration to %s failed: %s (retry in %.0f s)", self.config.registrar, why, self.retry_after)
        return []

    def use_targets(self, targets: list[Endpoint]) -> None:
        """The registrar's resolved targets (RFC 3263): the first is used; a timeout moves on to the next."""
        if targets:
            self.targets = list(targets)
            self.dest = self.targets[0]

    def on_timeout(self, now: float) -> list[Outgoing]:
        """Timer F: the registrar never answered: the next target at once (RFC 3263 §4.3), else retry later."""
        self.pending = None
        self.last_status = 408
        index = self.targets.index(self.dest) if self.dest in self.targets else -1
        if not self.stopped and index + 1 < len(self.targets):
            failed, self.dest = self.dest, self.targets[index + 1]
            log.info("registrar %s:%d did not answer; trying %s:%d", failed.host, failed.port, self.dest.host,
                     self.dest.port)
            self.auth_tried = False
            return self._register(now)
        if len(self.targets) > 1:
            self.dest = self.targets[0]  # the next round starts from the best target again
        return self._failed(now, "timeout")

    def on_tick(self, now: float) -> list[Outgoing]:
        if self.pending is not None:
            return []
        if self.expires_at is not None and now >= self.expires_at:
            self.registered = False
        if self.next_at is not None and now >= self.next_at:
            return self.start(now)
        return []
