"""After every test of this package: no in-process engine (tests.ivr.peers.fixtures.Ivr) hit a call state
machine error.  The UA core turns such an exception into a hang-up, so a peer test could pass over one."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_call_state_machine_errors() -> Iterator[None]:
    yield
    fixtures = sys.modules.get("tests.ivr.peers.fixtures")  # not imported: no engine was started (no Twisted)
    if fixtures is not None:
        for server in list(fixtures.Ivr.running):
            server.check_no_call_errors()
