"""Twisted on asyncio: one reactor per asyncio loop, so asyncio libraries (redis.asyncio ...) share the loop.

``install()`` is for the ``hotline serve`` process: it installs the asyncio reactor globally, early, before
anything imports ``twisted.internet.reactor``.  Code that runs inside an already running asyncio loop (tests,
embedding) calls :func:`reactor_for_loop`, which returns the global reactor when it drives that loop, or a
private :class:`AsyncioSelectorReactor` bound to the loop otherwise.
"""

from __future__ import annotations

import asyncio
import sys
import weakref

from twisted.internet.asyncioreactor import AsyncioSelectorReactor

_private: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncioSelectorReactor] = weakref.WeakKeyDictionary()


def install(loop: asyncio.AbstractEventLoop) -> AsyncioSelectorReactor:
    """Install the asyncio reactor globally on ``loop`` (no-op when an asyncio reactor on it is installed)."""
    existing = sys.modules.get("twisted.internet.reactor")
    if isinstance(existing, AsyncioSelectorReactor):
        return existing
    from twisted.internet import asyncioreactor

    asyncioreactor.install(eventloop=loop)
    from twisted.internet import reactor

    assert isinstance(reactor, AsyncioSelectorReactor)
    return reactor


def reactor_for_loop(loop: asyncio.AbstractEventLoop | None = None) -> AsyncioSelectorReactor:
    """The Twisted reactor that drives ``loop`` (default: the running loop)."""
    loop = loop or asyncio.get_running_loop()
    existing = sys.modules.get("twisted.internet.reactor")
    if isinstance(existing, AsyncioSelectorReactor) and existing._asyncioEventloop is loop:
        return existing
    reactor = _private.get(loop)
    if reactor is None:
        reactor = AsyncioSelectorReactor(loop)
        _private[loop] = reactor
    return reactor
