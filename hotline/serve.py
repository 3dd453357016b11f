"""``hotline serve``: the call engine with the application injected (see hotline/README.md and ivr/README.md).

The application is ``--app module:function`` (default :data:`DEFAULT_APP`, the real one in hotline/wiring.py): a
factory ``f(engine) -> CallHandler`` (may be async; ``aclose()`` at exit).  It is chosen here, in the composition
root, not in the engine's configuration: the telephony package does not know the application.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

from config.ivr import IvrConfig
from config.loader import ConfigError, ListenError, load_config

log = logging.getLogger(__name__)

DEFAULT_APP = "hotline.wiring:build_application"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``hotline serve``."""
    parser = subparsers.add_parser("serve", help="answer SIP calls (IVR call engine)")
    parser.add_argument("--host", help="listen address (default from config/ivr.yaml: 0.0.0.0)")
    parser.add_argument("--port", type=int, help="SIP port, UDP and TCP (default 5060; 0 = any free port)")
    parser.add_argument("--advertise", help="address to put in Contact/SDP (default: host, or 127.0.0.1)")
    parser.add_argument(
        "--app",
        default=DEFAULT_APP,
        help=f"application factory module:function, f(engine) -> CallHandler (may be async; aclose() at exit; "
        f"default {DEFAULT_APP})",
    )
    parser.add_argument("--transport", action="append", choices=["udp", "tcp"], help="repeat for several")
    # also after `serve` (./install.sh run -vv passes its arguments here); unset unless given, so `hotline -vv serve`
    # keeps the top-level count
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more logging (-vv for debug), as hotline -v")
    parser.set_defaults(func=run)


def load_factory(spec: str) -> Callable[[Any], Any]:
    """Import ``module:function``; raises ConfigError with a clear message."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--app {spec!r}: expected module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--app {spec!r}: cannot import {module_name}: {exc}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"--app {spec!r}: {module_name} has no callable {attr}")
    return factory


def build_config(args: argparse.Namespace) -> IvrConfig:
    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.advertise is not None:
        overrides["advertised_host"] = args.advertise
    if args.transport:
        overrides["transports"] = args.transport
    return load_config(IvrConfig, "ivr", overrides=overrides)


def run(args: argparse.Namespace) -> int:
    config = build_config(args)
    factory = load_factory(args.app)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from ivr.net import install

    install(loop)  # before anything imports twisted.internet.reactor
    try:
        return loop.run_until_complete(_serve(config, factory))
    finally:
        loop.close()


async def _serve(config: IvrConfig, factory: Callable[[Any], Any]) -> int:
    from ivr.engine import Engine

    engine = Engine(config)
    try:
        app = factory(engine)
        if inspect.isawaitable(app):  # async factories set up databases, models, web servers first
            app = await app
    except ListenError as exc:  # e.g. the agent desk's port is taken
        print(f"hotline serve: {exc}", file=sys.stderr)
        return 1
    engine.set_handler(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start()
    except (ListenError, OSError) as exc:
        text = str(exc) if isinstance(exc, ListenError) else f"cannot listen on {config.host}:{config.port}: {exc}"
        print(f"hotline serve: {text}", file=sys.stderr)
        await _close(app)
        return 1
    print(
        f"hotline serve: listening on {config.host}:{engine.port} ({'/'.join(config.transports)}), "
        f"call sip:12345@{engine.public_host}:{engine.port}",
        flush=True,
    )
    await stop.wait()
    print("hotline serve: shutting down", flush=True)
    await engine.stop()
    await _close(app)
    return 0


async def _close(app: Any) -> None:
    closer = getattr(app, "aclose", None)
    if closer is not None:
        await closer()
