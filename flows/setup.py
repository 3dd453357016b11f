"""Build a runner context from configuration: the flow registry, the classifier and the channel routes."""

from __future__ import annotations

import logging
from pathlib import Path

from asr.api import SpeechService
from bridge.api import Handoff
from config.flows import FlowsConfig
from config.loader import load_config
from flows.registry import FlowRegistry
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


def default_classifier() -> ClassifierLike | None:
    """The policy classifier (flows.classifier); None when it cannot load (the flow then uses the keypad menu)."""
    try:
        from flows.classifier import Classifier

        classifier: ClassifierLike = Classifier.default()
    except Exception as exc:  # missing or broken policy: calls still work through the keypad menu
        log.error("classifier unavailable, calls fall back to the keypad menu: %s", exc)
        return None
    return classifier


def routes(conf: FlowsConfig) -> dict[str, ChannelRoute]:
    """Channel routes: the policy's active city (flows/policy.yaml) wins; config/flows.yaml fills the gaps."""
    out = {cid: ChannelRoute(c.transfer, c.target or cid) for cid, c in conf.channels.items()}
    try:
        from flows.policy import load_policy

        policy = load_policy()
        for cid in policy.channels:
            route = policy.route(cid)
            target = route.target or route.number or cid
            out[cid] = ChannelRoute(route.mode in ("transfer", "internal"), target)
    except Exception as exc:  # no policy: the configured routes serve
        log.warning("policy routes unavailable, using config/flows.yaml channels: %s", exc)
    for cid in ("110", "119", "120", "122"):  # emergencies are always transferred
        known = out.get(cid)
        out[cid] = ChannelRoute(True, known.target if known and known.target else cid)
    return out


class ContextFactory:
    """A context per new call: the current flow version (pinned for the call), shared classifier and routes."""

    def __init__(self, conf: FlowsConfig, registry: FlowRegistry, classifier: ClassifierLike | None) -> None:
        self.conf = conf
        self.registry = registry
        self.classifier = classifier
        self.routes = routes(conf)

    @classmethod
    def from_config(cls, conf: FlowsConfig | None = None, *, flow: str | Path | None = None,
                    classifier: ClassifierLike | None = None) -> ContextFactory:
        conf = conf or load_flows_config()
        path = Path(flow) if flow is not None and str(flow).endswith((".yaml", ".yml")) else flow_path(
            conf, str(flow) if flow else None)
        return cls(conf, FlowRegistry(path), classifier if classifier is not None else default_classifier())

    def new_context(self) -> Context:
        conf = self.conf
        limits = Limits(conf.max_call_seconds, conf.render_timeout, min(conf.dependency_timeout, conf.render_timeout))
        return Context(flow=self.registry.current(), classifier=self.classifier, routes=self.routes,
                       confirm_emergency_below=conf.confirm_emergency_below, agent_queue=conf.agent_queue,
                       split_min_confidence=conf.split_min_confidence, limits=limits)


def session_deps(prompts: PromptSource, handoff: Handoff, speech: SpeechService | None = None, *,
                 factory: ContextFactory | None = None) -> SessionDeps:
    """SessionDeps for real calls from configuration (flows, policy, classifier) and the given services."""
    factory = factory or ContextFactory.from_config()
    factory.new_context()  # fail at start-up, not on the first call, when the flow file is invalid
    return SessionDeps(prompts=prompts, handoff=handoff, contexts=factory.new_context, speech=speech,
                       dependency_timeout=factory.conf.dependency_timeout,
                       render_timeout=factory.conf.render_timeout,
                       max_call_seconds=factory.conf.max_call_seconds)
