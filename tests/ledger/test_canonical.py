"""RFC 8785 canonical JSON: the RFC's own examples, key order, refusals."""

import json
import math
import string

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from trustee.errors import InvalidRequest
from trustee.ledger.canonical import CanonicalJSONError, canonical_json
from trustee.ledger.records import EventRequest, compose_entry, prepare_event

# RFC 8785 §3.2.2: the sample input, as JSON text (escapes kept as the RFC writes them).
RFC_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
# RFC 8785 §3.2.4: the canonical UTF-8 bytes of that sample, in hex.
RFC_OUTPUT_HEX = """
7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d
"""


def test_rfc8785_sample_bytes():
    expected = bytes.fromhex("".join(RFC_OUTPUT_HEX.split()))
    assert canonical_json(json.loads(RFC_INPUT)) == expected
    assert expected.decode() == (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


def test_rfc8785_sorting_by_utf16_code_units():
    # RFC 8785 §3.2.3: the sorting example and the order it prescribes.
    value = json.loads(r"""{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }""")
    order = list(json.loads(canonical_json(value)).values())
    assert order == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",  # U+1F600 is D83D DE00 in UTF-16: before U+FB33
        "Hebrew Letter Dalet With Dagesh",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"b": 1, "a": {"d": [3, {"z": None, "y": True}], "c": "x"}},
            '{"a":{"c":"x","d":[3,{"y":true,"z":null}]},"b":1}',
        ),
        ({"": 4, "ab": 1, "aa": 2, "a": 3}, '{"":4,"a":3,"aa":2,"ab":1}'),
        ("é\u2028\x7f", '"é\u2028\x7f"'),  # no escaping beyond what JSON requires
        ("\t\b\f\r\x01", '"\\t\\b\\f\\r\\u0001"'),
        ([1.0, -0.0, 1e21, 1e-7, 2**53 - 1], "[1,0,1e+21,1e-7,9007199254740991]"),
        ((1, "two"), '[1,"two"]'),
        ({}, "{}"),
        ([], "[]"),
    ],
)
def test_canonical_forms(value, expected):
    assert canonical_json(value) == expected.encode()


def test_equal_values_give_equal_bytes():
    a = {"asset": "car-7", "events": [{"op": "unlock", "km": 48213}], "v": 1}
    b = json.loads('{"v":1.0,"events":[{"km":48213,"op":"unlock"}],"asset":"car-7"}')
    assert canonical_json(a) == canonical_json(b)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (math.nan, "NaN"),
        ([math.inf], "NaN and Infinity"),
        (2**53 + 1, "2\\*\\*53"),  # a double parser reads 2**53
        (-(2**60), "2\\*\\*53"),
        ({1: "x"}, "not a JSON value"),
        ({"a": 1, 2: "b"}, "not a JSON value"),
        (b"bytes", "not a JSON value"),
        ({"s": {1, 2}}, "not a JSON value"),
        ("\ud800", "not a JSON value"),
        ({"\udc00": 1}, "valid Unicode"),
    ],
)
def test_refusals(value, fragment):
    with pytest.raises(CanonicalJSONError, match=fragment):
        canonical_json(value)
    assert issubclass(CanonicalJSONError, ValueError)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_property_a_stored_number_reads_back_to_the_same_bytes(number: float) -> None:
    """JCS writes a large double as integer digits (1e18 as 1000000000000000000), which JSON
    parsers read back as an integer: that integer is the same number and must give the same
    bytes, or a stored value could never be written again (an asset's attributes merged with
    an update)."""
    stored = canonical_json({"n": number})
    assert canonical_json(orjson.loads(stored)) == stored


def test_an_integer_is_accepted_only_as_the_digits_of_a_double() -> None:
    assert canonical_json(2**53) == b"9007199254740992"  # exactly a double, written so
    written = b"[1000000000000000000,-51899823665163770]"
    assert canonical_json([10**18, -51899823665163770]) == written
    for unwritten in (2**53 + 1, -51899823665163768, 10**400):
        with pytest.raises(CanonicalJSONError, match="2\\*\\*53"):
            canonical_json(unwritten)


def test_cycles_are_refused():
    loop: list = []
    loop.append(loop)
    with pytest.raises(CanonicalJSONError, match="nested too deeply"):
        canonical_json(loop)


# --- the orjson fast path equals the reference serialiser ------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.text(max_size=6)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(_text, inner, max_size=5)
        | st.dictionaries(st.text(string.ascii_letters + "_", max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


def _reference(value):
    try:
        return rfc8785.dumps(value)
    except rfc8785.IntegerDomainError:
        # An integer beyond 2**53 stands for the double JCS writes with its digits, if any.
        try:
            return _reference(_written_doubles(value))
        except (ValueError, OverflowError):
            return None
    except (rfc8785.CanonicalizationError, UnicodeError, RecursionError):
        return None


def _written_doubles(value):
    if type(value) is int and abs(value) > 2**53 - 1:
        if rfc8785.dumps(float(value)) != str(value).encode():
            raise ValueError(value)
        return float(value)
    if isinstance(value, dict):
        return {key: _written_doubles(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_written_doubles(item) for item in value]
    return value


@settings(max_examples=150, deadline=None)
@given(_json_values)
def test_property_canonical_json_is_the_reference_bytes(value):
    expected = _reference(value)
    if expected is None:
        with pytest.raises(CanonicalJSONError):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(_text.filter(bool), _json_values, max_size=4),
    st.dictionaries(_text.filter(bool), _json_values, max_size=3),
    st.text(max_size=20),
    st.one_of(st.none(), st.text(max_size=20)),
    st.integers(0, 2**53 - 1),
)
def test_property_a_composed_entry_is_the_records_canonical_json(
    event_attributes, asset_attributes, operation, declared, log_index
):
    request = EventRequest(
        "0b5c1d2e-0000-4000-8000-000000000000",
        event_attributes=event_attributes,
        asset_attributes=asset_attributes,
        operation=operation,
        timestamp_declared=declared,
        principal_declared={"issuer": operation} if declared else None,
        principal_accepted={"accessor": "a" * 8, "display_name": "root"},
    )
    try:
        prepared = prepare_event(request)
    except InvalidRequest:
        assert _reference(event_attributes) is None or _reference(asset_attributes) is None
        return
    event, entry = compose_entry(prepared, log_index, "2026-01-02T03:04:05.000006Z")
    assert entry == _reference(event.to_record())
