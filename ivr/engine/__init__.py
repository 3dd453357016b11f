"""Call engine: sans-IO call state machine (callsm/uac) and UA core, Engine (network shell glue), registrar, runners.

The sans-IO modules (``core``, ``callsm``, ``model``, ``uac``, ``indialog``, ``callops``, ``sipmsg``, ``negotiate``,
``registrar``, ``upstream``) never import Twisted; the shell names below (``Engine``, ``EngineCall``,
``EngineThread``, ``start_engine``) load the network shell (:mod:`ivr.net`) only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ivr.engine.callsm import new_uas, step

if TYPE_CHECKING:
    from ivr.engine.call import EngineCall
    from ivr.engine.engine import Engine
    from ivr.engine.runner import EngineThread, start_engine

_SHELL = {
    "Engine": "ivr.engine.engine",
    "EngineCall": "ivr.engine.call",
    "EngineThread": "ivr.engine.runner",
    "start_engine": "ivr.engine.runner",
}

__all__ = ["Engine", "EngineCall", "EngineThread", "new_uas", "start_engine", "step"]


def __getattr__(name: str) -> Any:
    module = _SHELL.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
