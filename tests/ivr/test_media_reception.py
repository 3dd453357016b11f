"""RTCP reception statistics: jitter, cumulative and interval loss, sequence wrap, SSRC change."""

from __future__ import annotations

import random

from ivr.media.reception import ReceptionStats


def test_clean_stream_has_no_loss_and_no_jitter() -> None:
    r = ReceptionStats()
    for i in range(100):
        r.update(7, (65500 + i) & 0xFFFF, 1000 + 160 * i, 5000 + 160 * i)  # wraps the 16-bit sequence
    block = r.report_block()
    assert block is not None
    assert (block.ssrc, block.fraction_lost, block.cumulative_lost) == (7, 0, 0)
    assert block.highest_seq == 65500 + 99 and block.jitter == 0


def test_loss_fraction_per_interval_and_cumulative() -> None:
    r = ReceptionStats()
    for i in range(100):
        if i % 4 != 3:  # a quarter lost
            r.update(1, i, 160 * i, 160 * i)
    first = r.report_block()
    assert first is not None and first.cumulative_lost == 24 and first.fraction_lost == (24 << 8) // 99
    for i in range(100, 200):  # then none lost
        r.update(1, i, 160 * i, 160 * i)
    second = r.report_block()
    # packet 99 (lost) only shows once 100 arrives: one loss in the second interval
    assert second is not None and second.fraction_lost == (1 << 8) // 101 and second.cumulative_lost == 25


def test_jitter_estimate_tracks_arrival_variation() -> None:
    rng = random.Random(3)
    r = ReceptionStats()
    for i in range(2000):
        r.update(1, i, 160 * i, 160 * i + rng.randint(0, 80))  # up to 10 ms of arrival noise
    assert 10 < r.jitter < 50  # RFC 3550 estimator: mean |D| ~ 27 units for this noise


def test_duplicates_count_negative_loss_and_ssrc_change_resets() -> None:
    r = ReceptionStats()
    for i in range(10):
        r.update(1, i, 160 * i, 160 * i)
        r.update(1, i, 160 * i, 160 * i)
    assert r.cumulative_lost == -10  # RFC 3550: duplicates make it negative
    r.update(2, 500, 0, 0)
    assert r.ssrc == 2 and r.expected == 1 and r.received == 1
    assert ReceptionStats().report_block() is None
