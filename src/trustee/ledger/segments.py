"""The segments of the events' attribute index: which rows a look-up seeks, and which merge next.

The indexer files each event's terms under its epoch (a run of 8,192 log indexes,
:func:`~trustee.ledger.terms.epoch_of`), so that a batch's rows land among those of the last
few thousand events and its writes stay small as the log grows. A look-up seeks once per
segment, so epochs alone would make its cost grow with the log (122 seeks at 10⁶ events).
Closed epochs are therefore merged, :data:`FANOUT` at a time, into segments of the next
level, and those in turn (a tiered log-structured merge, :mod:`trustee.ledger.compaction`):
each event's terms are copied once per level, sequentially, and a look-up seeks at most
``FANOUT - 1`` segments per level plus the open epochs, about 20 at 10⁶ events and 50 at
10⁹.

A segment's id is its first epoch and its level, the base-2 logarithm of the epochs it spans
(``first_epoch << LEVEL_BITS | level``): ids sort in log order, a merged segment's id never
equals that of a segment it replaces, so both can hold rows while it is built, and a reader
needs no other fact to know what a segment covers. Level 0 needs no record: its segments are
the epochs after the last merged one. Merged segments are listed in ``ledger_term_segments``.

Everything here is arithmetic on ids; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from trustee.ledger.terms import EPOCH_BITS, epoch_of

__all__ = [
    "FANOUT",
    "LEVEL_BITS",
    "end_epoch",
    "epoch_segment",
    "first_epoch",
    "level0_segment",
    "level_of",
    "live_segments",
    "next_merge",
    "segment_id",
]

LEVEL_BITS = 6
FANOUT = 16
"""Segments merged into one (a power of two): 16 epochs make 131,072 events."""


def segment_id(first: int, level: int) -> int:
    if not 0 <= level < 1 << LEVEL_BITS:
        raise ValueError(f"no segment level {level}")
    return first << LEVEL_BITS | level


def epoch_segment(epoch: int) -> int:
    """The level-0 segment of ``epoch``: where the indexer files its events' terms."""
    return segment_id(epoch, 0)


def level0_segment(log_index: int) -> int:
    """The segment the indexer files ``log_index``'s terms under: its epoch's."""
    return epoch_segment(epoch_of(log_index))


def level_of(segment: int) -> int:
    return segment & ((1 << LEVEL_BITS) - 1)


def first_epoch(segment: int) -> int:
    return segment >> LEVEL_BITS


def end_epoch(segment: int) -> int:
    """The first epoch after ``segment``."""
    return first_epoch(segment) + (1 << level_of(segment))


def live_segments(merged: Sequence[int], events_below: int, *, after: int = -1) -> list[int]:
    """The segments that hold the terms of the indexed events after log index ``after``, in
    log order: the live merged ones (ascending, contiguous from epoch 0), then the epochs
    from the end of the last up to the marker ``events_below``."""
    first_wanted = epoch_of(after + 1)
    start = end_epoch(merged[-1]) if merged else 0
    found = [each for each in merged if end_epoch(each) > first_wanted]
    last = epoch_of(events_below - 1)  # -1 with nothing indexed
    return found + [epoch_segment(e) for e in range(max(start, first_wanted), last + 1)]


def next_merge(
    merged: Sequence[int], events_below: int, fanout: int = FANOUT
) -> tuple[int, list[int]] | None:
    """The segment to build next and the ``fanout`` segments it replaces, or None: the first
    run, in log order, of ``fanout`` adjacent segments of one level, of which no event can
    still be indexed. The layout stays contiguous: levels descend with the log order."""
    if fanout < 2 or fanout & (fanout - 1):
        raise ValueError("the fanout is a power of two")
    closed = events_below >> EPOCH_BITS  # epochs all of whose events are indexed
    run: list[int] = []
    for segment in live_segments(merged, events_below):
        if end_epoch(segment) > closed:
            break
        if run and level_of(run[-1]) != level_of(segment):
            run = []
        run.append(segment)
        if len(run) == fanout:
            level = level_of(run[0]) + fanout.bit_length() - 1
            return segment_id(first_epoch(run[0]), level), run
    return None
