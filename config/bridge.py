"""Configuration of the work-order and agent side (bridge/): database, journal, agents, deadlines, desk."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class AgentConfig(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    name: str
    sip_uri: str | None = None  # static SIP URI; None → ask the engine's registrar (engine.resolve(aor))
    aor: str | None = None
    skills: list[str] = Field(default_factory=list)
    password_hash: str | None = None  # "scrypt$n$r$p$salt_hex$hash_hex" (see bridge.auth.hash_password)
    # desk role: agent (own orders), supervisor (all orders), operator (login lock-outs, no order content);
    # agents known only to the database (`hotline agents passwd`) are agents
    role: Literal["agent", "supervisor", "operator"] = "agent"


class DeadlineRule(BaseModel):
    working_days: float | None = None
    hours: float | None = None  # calendar hours (outages, emergencies)


class DeadlineConfig(BaseModel):
    by_type: dict[str, DeadlineRule] = Field(default_factory=dict)
    by_urgency: dict[str, DeadlineRule] = Field(default_factory=dict)
    by_category: dict[str, DeadlineRule] = Field(default_factory=dict)
    policy_file: str | None = "flows/policy.yaml"  # its categories' `deadline` and `deadlines:` section win
    category_applies_to: list[str] | None = None  # request types a category limit applies to (None: all)
    work_start_hour: int = 9
    work_end_hour: int = 17


class CalendarConfig(BaseModel):
    """Overrides of the chinesecalendar package (bridge.deadlines.WorkCalendar), and years it does not cover yet."""

    holidays: list[date] = Field(default_factory=list)  # days off; a year listed here counts as covered
    working_weekends: list[date] = Field(default_factory=list)  # 调休 make-up working days (win over holidays)


class TransferConfig(BaseModel):
    ring_timeout_s: float = Field(default=15.0, gt=0)
    max_agents_tried: int = Field(default=3, ge=1)
    wait_for_free_agent_s: float = Field(default=20.0, ge=0)
    poll_interval_s: float = Field(default=1.0, gt=0)
    caller_id: str = "12345"
    agent_retry_prompt_timeout_s: float = Field(default=8.0, gt=0)
    # True: the hand-off plays transfer.notice, and on no agent transfer.no_agent_callback / callback.promise and
    # hangs up.  False: the flow voices those (flows/definitions/hotline.yaml does; config/bridge.yaml sets false)
    announce: bool = True


class DeskConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8345, ge=0, le=65535)
    token_secret: str = "change-me-hotline-desk-secret"
    token_ttl_s: int = Field(default=12 * 3600, gt=0)  # absolute session lifetime from login
    session_idle_s: int = Field(default=2 * 3600, gt=0)  # session ends after this long without a desk request
    cookie_secure: bool = False  # mark the session cookie Secure (desk served over HTTPS, e.g. behind a proxy)
    lockout_failures: int = Field(default=5, ge=1)  # failed logins of one agent id within the window → lock
    lockout_address_failures: int = Field(default=20, ge=1)  # failed logins from one source address → lock
    lockout_window_s: float = Field(default=900.0, gt=0)
    lockout_s: float = Field(default=900.0, gt=0)  # how long a lock lasts (Retry-After)
    # the desk refuses to start while the demo passwords / token secret / platform token of config/bridge.yaml
    # are in effect, unless this is true (or the environment has HOTLINE_DEMO=1, as `./install.sh run` sets)
    demo: bool = False
    api_tokens: dict[str, str] = Field(default_factory=dict)  # name → sha256 hex of the bearer token (platform)
    sse_replay: int = Field(default=200, ge=1)


class BridgeConfig(BaseModel):
    database_url: str = "sqlite:///var/hotline.db"
    db_schema: str | None = None  # PostgreSQL schema (search_path); created when missing
    journal_path: str = "var/orders.journal"
    replay_interval_s: float = Field(default=5.0, gt=0)
    node_id: int = Field(default=1, ge=0, le=99)
    sequence_dir: str = "var"
    redis_url: str | None = None
    redis_prefix: str = "hotline:"
    repeat_window_days: int = Field(default=30, ge=0)
    repeat_match: str = Field(default="number", pattern="^(number|number_category|number_address)$")
    agents: list[AgentConfig] = Field(default_factory=list)
    deadlines: DeadlineConfig = Field(default_factory=DeadlineConfig)
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)
    desk: DeskConfig = Field(default_factory=DeskConfig)
    timezone: str = "Asia/Shanghai"

    @field_validator("agents")
    @classmethod
    def _unique_agents(cls, v: list[AgentConfig]) -> list[AgentConfig]:
        ids = [a.id for a in v]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate agent ids: {sorted(dup)}")
        return v
