"""Configuration of the flow engine (``config/flows.yaml``, env ``HOTLINE_FLOWS__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ChannelConf(BaseModel):
    """How a channel is reached in this city: transferred (REFER / handoff) or its number told to the caller."""

    transfer: bool = False
    target: str = ""  # number or SIP URI; empty = the channel id itself (e.g. "119")


class FlowsConfig(BaseModel):
    definitions_dir: str = "flows/definitions"  # relative to the project directory unless absolute
    main_flow: str = "hotline"  # file <main_flow>.yaml in definitions_dir
    confirm_emergency_below: float = Field(default=0.75, ge=0.0, le=1.0)  # confirm an emergency under this
    split_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)  # weaker second readings are no split
    agent_queue: str = "default"
    # an emergency the classifier gives no routable channel goes here (confirmed first); 12345-110 linkage
    default_emergency_channel: str = Field(default="110", min_length=1)
    max_call_seconds: float = Field(default=1800.0, gt=0)  # a call still in the flow after this goes to an agent
    dependency_timeout: float = Field(default=15.0, gt=0)  # order write / transfer start limit; slow-prompt warning
    render_timeout: float = Field(default=90.0, gt=0)  # a prompt's synthesis may take this long before the error path
    channels: dict[str, ChannelConf] = Field(default_factory=dict)
