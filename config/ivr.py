"""Configuration of the call engine (``config/ivr.yaml``, env ``HOTLINE_IVR__<FIELD>``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

Codec = Literal["PCMU", "PCMA", "G722"]


class RegistrarUser(BaseModel):
    """An agent phone allowed to REGISTER to the IVR (digest auth)."""

    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class UpstreamRegistration(BaseModel):
    """The IVR registers to a PBX as an extension (off unless ``enabled``).

    ``username``/``password`` also answer digest challenges to the IVR's outgoing calls (agent legs)."""

    enabled: bool = False
    registrar: str = "sip:127.0.0.1:5070"  # URI of the PBX registrar
    aor: str = "sip:12345@127.0.0.1"  # address-of-record the IVR registers
    username: str = "12345"
    password: str = ""
    expires: int = Field(default=600, ge=30, le=86400)
    refresh_margin: float = Field(default=0.8, gt=0.1, lt=1.0)  # refresh at this fraction of the granted expiry


class DnsSettings(BaseModel):
    """RFC 3263 resolution of SIP targets given by name (agent phones, the upstream PBX or trunk)."""

    nameservers: list[str] = Field(default_factory=list)  # "ip" or "ip:port"; empty: the system resolver
    timeout: float = Field(default=2.0, gt=0)  # seconds for one DNS question (all servers together)
    negative_ttl: float = Field(default=30.0, ge=0)  # how long "no such record" is remembered
    failover_timeout: float = Field(default=4.0, gt=0)  # no answer at all from one target for this long: next one


class TlsSettings(BaseModel):
    """SIP over TLS (RFC 3261 §26.2, ``sips:``): on when ``tls`` is in ``transports``."""

    port: int = Field(default=5061, ge=0, le=65535)  # the TLS listener; 0 = pick a free port
    cert_file: str = ""  # PEM certificate (chain) the IVR presents
    key_file: str = ""  # PEM private key of cert_file
    ca_file: str = ""  # PEM CAs trusted for servers the IVR connects to; empty: the system's trust store
    verify_server: bool = True  # check the certificate (and its name or IP) of TLS servers the IVR calls


SrtpMode = Literal["off", "offer", "required"]


def check_cidrs(values: Iterable[str], where: str = "") -> None:
    """Every entry an IP address or a CIDR network (a ``ValueError`` naming the first that is not)."""
    for cidr in values:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise ValueError(f"{where}{cidr!r} is not an address or CIDR") from exc


class SrtpSettings(BaseModel):
    """SRTP with SDES keys (RFC 4568, AES_CM_128_HMAC_SHA1_80).

    ``off``: plain RTP only (an offer of RTP/SAVP alone gets 488); ``offer``: SRTP when the peer offers it
    (answered with our own key), plain RTP otherwise; ``required``: an offer without crypto gets 488 Not
    Acceptable Here.
    ``peers`` overrides ``mode`` per peer address (IP or CIDR)."""

    mode: SrtpMode = "offer"
    peers: dict[str, SrtpMode] = Field(default_factory=dict)

    @field_validator("peers")
    @classmethod
    def _peer_cidrs(cls, value: dict[str, SrtpMode]) -> dict[str, SrtpMode]:
        check_cidrs(value, "srtp.peers: ")
        return value

    def mode_for(self, host: str) -> SrtpMode:
        """The mode for a peer at ``host`` (the most specific matching ``peers`` entry, else ``mode``)."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return self.mode
        best: tuple[int, SrtpMode] | None = None
        for cidr, mode in self.peers.items():
            network = ipaddress.ip_network(cidr, strict=False)
            if address.version == network.version and address in network:
                if best is None or network.prefixlen > best[0]:
                    best = (network.prefixlen, mode)
        return best[1] if best is not None else self.mode


class Timers(BaseModel):
    """RFC 3261 timers (seconds) and call-level limits."""

    t1: float = Field(default=0.5, gt=0)
    t2: float = Field(default=4.0, gt=0)
    t4: float = Field(default=5.0, gt=0)
    dial_timeout: float = Field(default=30.0, gt=0)  # default ring time for outgoing legs
    rtp_timeout: float = Field(default=0.0, ge=0)  # hang up when no RTP for this long (0 = off)
    max_call_seconds: float = Field(default=3600.0, gt=0)


class GuardConfig(BaseModel):
    """Hostile peers (``ivr.engine.guard``): who may place calls, per-source request limits, REGISTER lock-out."""

    call_acl: list[str] = Field(default_factory=list)  # CIDRs allowed to place calls (INVITE); empty = everyone
    rate: float = Field(default=100.0, ge=0)  # SIP messages per second per source IP (token bucket); 0 = no limit
    burst: int = Field(default=400, ge=1)  # bucket size: messages a source may send at once
    rate_exempt: list[str] = Field(default_factory=list)  # CIDRs never rate-limited (the PBX/trunk of all calls)
    auth_max_failures: int = Field(default=5, ge=1)  # failed REGISTER digests ...
    auth_window: float = Field(default=300.0, gt=0)  # ... within this many seconds lock the source and the user ...
    auth_lock_seconds: float = Field(default=900.0, gt=0)  # ... for this long

    @field_validator("call_acl", "rate_exempt")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        check_cidrs(value)
        return value


class IvrConfig(BaseModel):
    host: str = "0.0.0.0"  # listen address
    port: int = Field(default=5060, ge=0, le=65535)  # 0 = pick a free port
    transports: list[Literal["udp", "tcp", "tls"]] = Field(default_factory=lambda: ["udp", "tcp"])  # type: ignore[arg-type]
    advertised_host: str | None = None  # address put in Via/Contact/SDP; default: host, or 127.0.0.1 for 0.0.0.0
    rtp_port_min: int = Field(default=30000, ge=1024, le=65534)
    rtp_port_max: int = Field(default=39999, ge=1025, le=65535)
    codecs: list[Codec] = Field(default_factory=lambda: ["PCMU", "PCMA"])  # type: ignore[arg-type]
    dtmf_payload_type: int = Field(default=101, ge=96, le=127)
    timers: Timers = Field(default_factory=Timers)
    max_calls: int = Field(default=500, ge=1)
    max_datagram: int = Field(default=65535, ge=512)  # bigger UDP datagrams are dropped and counted
    user_agent: str = "hotline12345"
    realm: str = "hotline12345"
    registrar_users: list[RegistrarUser] = Field(default_factory=list)
    static_agents: dict[str, str] = Field(default_factory=dict)  # aor/user -> contact URI
    max_register_expires: int = Field(default=3600, ge=60)
    upstream: UpstreamRegistration = Field(default_factory=UpstreamRegistration)
    guard: GuardConfig = Field(default_factory=GuardConfig)
    dns: DnsSettings = Field(default_factory=DnsSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    srtp: SrtpSettings = Field(default_factory=SrtpSettings)

    @model_validator(mode="before")
    @classmethod
    def _no_app(cls, data: Any) -> Any:
        if isinstance(data, dict) and "app" in data:
            raise ValueError("'app' is no longer an ivr setting: the application is chosen by `hotline serve --app "
                             "module:function` (default hotline.wiring:build_application); remove it")
        return data

    @field_validator("codecs")
    @classmethod
    def _codecs_nonempty(cls, value: list[Codec]) -> list[Codec]:
        if not value:
            raise ValueError("at least one codec is required")
        return value

    @field_validator("transports")
    @classmethod
    def _transports_nonempty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one transport is required")
        return value

    @model_validator(mode="after")
    def _tls_files(self) -> IvrConfig:
        if "tls" in self.transports and not (self.tls.cert_file and self.tls.key_file):
            raise ValueError("transports has tls: set tls.cert_file and tls.key_file (PEM)")
        return self

    @model_validator(mode="after")
    def _rtp_range(self) -> IvrConfig:
        if self.rtp_port_max - self.rtp_port_min < 2:
            raise ValueError("rtp_port_max must be at least rtp_port_min + 2")
        return self

    def public_host(self) -> str:
        if self.advertised_host:
            return self.advertised_host
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
