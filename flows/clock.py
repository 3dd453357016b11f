"""The session's clock is :mod:`ivr.clock` (one ``Clock`` protocol, ``LoopClock``, ``VirtualClock`` for every
component); this name stays only for ``flows/session.py`` until its import points there."""

from ivr.clock import Clock, LoopClock

__all__ = ["Clock", "LoopClock"]
