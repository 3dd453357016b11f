"""Build a runner context from configuration: the flow and policy registries (classifier, channel routes)."""

from __future__ import annotations

import logging
from pathlib import Path

from asr.api import SpeechService
from bridge.api import Handoff
from config.flows import FlowsConfig
from config.loader import load_config
from flows.policy import DEFAULT_PATH, PolicyError
from flows.registry import FlowRegistry, PolicyRegistry, PolicySnapshot
from flows.runner import ChannelRoute, ClassifierLike, Context, Limits
from flows.session import SessionDeps
from prompts.api import PromptSource

log = logging.getLogger(__name__)
PROJECT_DIR = Path(__file__).resolve().parent.parent


def load_flows_config() -> FlowsConfig:
    return load_config(FlowsConfig, "flows")


def flow_path(conf: FlowsConfig, name: str | None = None) -> Path:
    base = Path(conf.definitions_dir)
    if not base.is_absolute():
        base = PROJECT_DIR / base
    return base / f"{name or conf.main_flow}.yaml"


def routes(conf: FlowsConfig, policy: PolicySnapshot | None) -> dict[str, ChannelRoute]:
    """Channel routes: the policy's active city (flows/policy.yaml) wins; config/flows.yaml fills the gaps."""
    out = {cid: ChannelRoute(c.transfer, c.target or cid) for cid, c in conf.channels.items()}
    for cid, (transfer, target) in (policy.routes if policy is not None else {}).items():
        out[cid] = ChannelRoute(transfer, target)
    for cid in ("110", "119", "120", "122"):  # emergencies are always transferred
        known = out.get(cid)
        out[cid] = ChannelRoute(True, known.target if known and known.target else cid)
    return out


class ContextFactory:
    """A context per new call: one snapshot of the flow and of the policy (classifier, routes), pinned for the call.

    Both files reload the same way (flows/registry.py): an edit serves new calls, a broken edit is logged and the
    last good version serves.  Without any valid policy calls go to the keypad menu on the configured routes.
    """

    def __init__(self, conf: FlowsConfig, registry: FlowRegistry, classifier: ClassifierLike | None = None,
                 policies: PolicyRegistry | None = None) -> None:
        self.conf = conf
        self.registry = registry
        self.fixed = classifier  # given: used instead of the policy's own
        self.policies = policies
        self._policy_error = ""

    @classmethod
    def from_config(cls, conf: FlowsConfig | None = None, *, flow: str | Path | None = None,
                    classifier: ClassifierLike | None = None, policy: str | Path | None = None) -> ContextFactory:
        conf = conf or load_flows_config()
        path = Path(flow) if flow is not None and str(flow).endswith((".yaml", ".yml")) else flow_path(
            conf, str(flow) if flow else None)
        policies = PolicyRegistry(policy or DEFAULT_PATH, classifier=classifier is None)
        return cls(conf, FlowRegistry(path), classifier, policies)

    def policy(self) -> PolicySnapshot | None:
        """The policy version for a new call; None when no valid one was ever loaded."""
        if self.policies is None:
            return None
        try:
            return self.policies.current()
        except (PolicyError, OSError) as exc:
            if str(exc) != self._policy_error:  # once per distinct problem, not once per call
                self._policy_error = str(exc)
                log.error("policy unavailable, calls fall back to the keypad menu and config/flows.yaml routes: %s",
                          exc)
            return None

    @property
    def classifier(self) -> ClassifierLike | None:
        if self.fixed is not None:
            return self.fixed
        snapshot = self.policy()
        return snapshot.classifier if snapshot is not None else None

    def new_context(self) -> Context:
        conf = self.conf
        flow = self.registry.current()
        snapshot = self.policy()  # flow and policy taken together: the call keeps both
        classifier = self.fixed if self.fixed is not None else snapshot.classifier if snapshot is not None else None
        limits = Limits(conf.max_call_seconds, conf.render_timeout, min(conf.dependency_timeout, conf.render_timeout))
        return Context(flow=flow, classifier=classifier, routes=routes(conf, snapshot),
                       confirm_emergency_below=conf.confirm_emergency_below, agent_queue=conf.agent_queue,
                       default_emergency_channel=conf.default_emergency_channel,
                       split_min_confidence=conf.split_min_confidence, limits=limits,
                       policy_version=snapshot.version if snapshot is not None else "")


def session_deps(prompts: PromptSource, handoff: Handoff, speech: SpeechService | None = None, *,
                 factory: ContextFactory | None = None) -> SessionDeps:
    """SessionDeps for real calls from configuration (flows, policy, classifier) and the given services."""
    factory = factory or ContextFactory.from_config()
    factory.new_context()  # fail at start-up, not on the first call, when the flow file is invalid
    return SessionDeps(prompts=prompts, handoff=handoff, contexts=factory.new_context, speech=speech,
                       dependency_timeout=factory.conf.dependency_timeout,
                       render_timeout=factory.conf.render_timeout,
                       max_call_seconds=factory.conf.max_call_seconds)
