"""Call engine: sans-IO call state machine (callsm/uac), Engine (network shell glue), registrar, runners."""

from ivr.engine.call import EngineCall
from ivr.engine.callsm import new_uas, step
from ivr.engine.engine import Engine
from ivr.engine.runner import EngineThread, start_engine

__all__ = ["Engine", "EngineCall", "EngineThread", "new_uas", "start_engine", "step"]
