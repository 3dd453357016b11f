"""The real application behind ``hotline serve``: prompts, speech, flows, work orders, agents and the desk.

``build_application(engine)`` is the default ``--app`` factory (``hotline.serve.DEFAULT_APP``); ``hotline serve``
injects what it returns into the engine as its call handler.  It is async: it starts the hand-off (database
migration, journal replay, agent state), the agent desk web server and checks the TTS voice before the first call
is answered.  Without a speech model the IVR runs in keypad (DTMF) mode and says so in the log and to callers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivr.app import Call, CallEngine

if TYPE_CHECKING:
    from flows.session import SessionDeps

log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)


@dataclass
class Application:
    """The per-call handler plus what must be closed at shutdown."""

    deps: SessionDeps
    closers: list[object] = field(default_factory=list)

    async def __call__(self, call: Call) -> None:
        from flows.session import run_call

        await run_call(call, self.deps)

    async def aclose(self) -> None:
        for closer in reversed(self.closers):
            try:
                result = closer.close() if hasattr(closer, "close") else closer.stop()  # type: ignore[attr-defined]
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # shutdown must go on
                log.exception("closing %r failed", closer)


async def build_application(engine: CallEngine) -> Application:
    from asr.service import VoskSpeechService
    from bridge.handoff import HotlineHandoff
    from bridge.web import start_desk
    from flows.setup import session_deps
    from ivr.net.reactor import reactor_for_loop
    from prompts.service import PromptService

    prompts = PromptService.from_config()
    voice = await asyncio.to_thread(prompts.check)  # a missing Mandarin voice fails here, never as English audio
    log.info("prompts: %s", voice)
    speech = await asyncio.to_thread(VoskSpeechService.from_config)
    status = speech.status
    if status.available:
        log.info("speech: Vosk model %s", status.model_path)
    else:
        log.warning("speech: DTMF (keypad) mode — %s", status.reason)
    handoff = HotlineHandoff.from_config(engine, prompts)
    await handoff.start()
    try:
        desk = start_desk(handoff, reactor_for_loop())  # the reactor that carries SIP serves the desk too
    except BaseException:  # e.g. its port taken: stop the hand-off's tasks before the error ends the process
        await handoff.close()
        raise
    log.info("agent desk: http://%s:%d/desk/", handoff.cfg.desk.host, desk.port)
    deps = session_deps(prompts, handoff, speech)
    return Application(deps, [prompts, speech, handoff, desk])
