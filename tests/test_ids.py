"""RFC 9562 UUID text: random ids and time-ordered event ids, read by the standard library."""

import os
import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from trustee.ids import TimeOrderedIds, uuid4_text
from trustee.ledger.records import EventRequest, prepare_event


def test_random_ids_are_version_4_uuids():
    ids = [uuid4_text() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def _milliseconds(text: str) -> int:
    return uuid.UUID(text).int >> 80


def test_event_ids_are_version_7_uuids_carrying_the_time_of_receipt():
    before = time.time_ns() // 1_000_000
    ids = [prepare_event(EventRequest("a")).uuid for _ in range(600)]
    after = time.time_ns() // 1_000_000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    # Counting past 4096 ids in one millisecond may run the prefix a little ahead.
    assert before <= _milliseconds(ids[0]) and _milliseconds(ids[-1]) <= after + 1


def test_ids_increase_as_text_so_new_rows_go_to_the_end_of_the_index():
    ids = [prepare_event(EventRequest("a")).uuid for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


@given(st.lists(st.integers(min_value=0, max_value=2**47), min_size=1, max_size=300))
def test_ids_increase_whatever_the_clock_does(readings_ms):
    """A clock that stands still or steps back (NTP) never makes an id repeat or go back."""
    readings = iter(readings_ms)
    source = TimeOrderedIds(clock_ns=lambda: next(readings) * 1_000_000)
    ids = [source() for _ in readings_ms]
    values = [uuid.UUID(text).int for text in ids]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert _milliseconds(ids[0]) == readings_ms[0]
    pairs = zip(ids, readings_ms, strict=True)
    assert all(_milliseconds(text) >= reading for text, reading in pairs)


def test_a_full_millisecond_moves_on_to_the_next_one():
    source = TimeOrderedIds(clock_ns=lambda: 5_000_000)
    ids = [source() for _ in range(4097)]
    assert _milliseconds(ids[0]) == 5 and _milliseconds(ids[-1]) == 6
    assert len({uuid.UUID(text).int for text in ids}) == 4097


def test_ids_in_one_millisecond_differ_in_their_random_bits_across_sources():
    def frozen() -> int:
        return 7_000_000

    first, second = TimeOrderedIds(clock_ns=frozen)(), TimeOrderedIds(clock_ns=frozen)()
    assert _milliseconds(first) == _milliseconds(second) == 7
    assert uuid.UUID(first).int & (2**62 - 1) != uuid.UUID(second).int & (2**62 - 1)


def test_a_forked_child_does_not_reuse_its_parents_random_bytes():
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports its next id, then leaves without cleanup
        os.write(write, prepare_event(EventRequest("a")).uuid.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 64).decode()
    os.close(read)
    ours = prepare_event(EventRequest("a")).uuid
    assert uuid.UUID(from_child).int & (2**62 - 1) != uuid.UUID(ours).int & (2**62 - 1)
