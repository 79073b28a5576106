"""The index's segment layout (:mod:`trustee.ledger.segments`): what merges leave behind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustee.ledger.segments import (
    end_epoch,
    epoch_segment,
    first_epoch,
    level_of,
    live_segments,
    next_merge,
    segment_id,
)
from trustee.ledger.terms import EPOCH_BITS, epoch_of


def _merge_all(merged: list[int], below: int, fanout: int) -> list[int]:
    """What compaction leaves once nothing is due: each merge's new segment live, the
    replaced ones gone."""
    while (planned := next_merge(merged, below, fanout)) is not None:
        segment, replaced = planned
        merged = sorted({*merged, segment} - set(replaced))
    return merged


@given(
    steps=st.lists(st.integers(0, 40 << EPOCH_BITS), min_size=1, max_size=6),
    fanout=st.sampled_from([2, 4, 16]),
    after=st.integers(-1, 300 << EPOCH_BITS),
)
def test_merges_keep_the_log_covered_once_in_order(steps: list[int], fanout: int, after: int):
    merged: list[int] = []
    below = 0
    for step in steps:
        below += step
        merged = _merge_all(merged, below, fanout)
        live = live_segments(merged, below)
        assert live == sorted(live)
        # contiguous from epoch 0 to the marker's epoch, each epoch in exactly one segment
        covered = [e for s in live for e in range(first_epoch(s), end_epoch(s))]
        assert covered == list(range(epoch_of(below - 1) + 1))
        # only whole, closed epochs are merged; the levels descend with the log
        assert all(end_epoch(s) <= below >> EPOCH_BITS for s in merged)
        assert [level_of(s) for s in live] == sorted((level_of(s) for s in live), reverse=True)
        # few seeks: fewer than ``fanout`` per level, plus the open epoch
        levels = {level_of(s) for s in live}
        assert len(live) <= (fanout - 1) * len(levels) + 1
        # a look-up after a log index skips the segments wholly before it
        later = live_segments(merged, below, after=after)
        assert later == [s for s in live if end_epoch(s) > epoch_of(after + 1)]


def test_ids_sort_in_log_order_and_never_collide_with_what_they_replace():
    assert segment_id(16, 4) > epoch_segment(15)
    assert segment_id(16, 4) < epoch_segment(32)
    assert segment_id(16, 4) != epoch_segment(16)
    assert end_epoch(segment_id(16, 4)) == 32
    first_sixteen = [epoch_segment(e) for e in range(16)]
    assert next_merge([], 16 << EPOCH_BITS) == (segment_id(0, 4), first_sixteen)
    assert next_merge([], (16 << EPOCH_BITS) - 1) is None  # the 16th epoch is still open
    with pytest.raises(ValueError, match="power of two"):
        next_merge([], 1 << 20, fanout=3)
