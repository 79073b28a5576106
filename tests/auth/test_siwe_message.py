"""The EIP-4361 parser and formatter: round trips of well-formed messages, strict refusals."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustee.auth.siwe_message import (
    SiweMessage,
    SiweMessageError,
    format_message,
    parse_date_time,
    parse_message,
)
from trustee.crypto.address import to_checksum_address

# The example of EIP-4361 itself.
EXAMPLE = """\
service.org wants you to sign in with your Ethereum account:
0xe5A12547fe4E872D192E3eCecb76F2Ce1aeA4946

I accept the ServiceOrg Terms of Service: https://service.org/tos

URI: https://service.org/login
Version: 1
Chain ID: 1
Nonce: 32891757
Issued At: 2021-09-30T16:25:24.000Z
Resources:
- ipfs://Qme7ss3ARVgxv6rXqVPiikMJ8u2NLgmgszg13pYrDKEoiu
- https://example.com/my-web2-claim.json"""


def test_the_eip_example_parses_and_formats_back():
    message = parse_message(EXAMPLE)
    assert message.domain == "service.org"
    assert message.address == "0xe5A12547fe4E872D192E3eCecb76F2Ce1aeA4946"
    assert message.statement == "I accept the ServiceOrg Terms of Service: https://service.org/tos"
    assert message.chain_id == 1 and message.nonce == "32891757"
    assert message.resources == (
        "ipfs://Qme7ss3ARVgxv6rXqVPiikMJ8u2NLgmgszg13pYrDKEoiu",
        "https://example.com/my-web2-claim.json",
    )
    assert message.issued_at_time == 1633019124.0
    assert format_message(message) == EXAMPLE


def test_no_statement_and_an_empty_statement_differ():
    base = parse_message(EXAMPLE)
    none = dataclasses.replace(base, statement=None)
    empty = dataclasses.replace(base, statement="")
    assert format_message(none).count("\n") == format_message(empty).count("\n") - 1
    assert parse_message(format_message(none)).statement is None
    assert parse_message(format_message(empty)).statement == ""


def _replace_line(prefix: str, line: str) -> str:
    return "\n".join(line if x.startswith(prefix) else x for x in EXAMPLE.split("\n"))


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (EXAMPLE.replace("service.org wants", "service.org want"), "first line"),
        (EXAMPLE.replace("service.org wants", " wants"), "no domain"),
        (EXAMPLE.replace("service.org wants", "serv ice.org wants"), "domain"),
        (EXAMPLE.replace("0xe5A12547", "0xe5a12547"), "EIP-55"),
        (EXAMPLE.replace("0xe5A12547fe4E872D192E3eCecb76F2Ce1aeA4946", "0xe5A1"), "40 hex"),
        (_replace_line("Version", "Version: 2"), "version"),
        (_replace_line("Chain ID", "Chain ID: 01"), "chain ID"),
        (_replace_line("Chain ID", "Chain ID: x"), "chain ID"),
        (_replace_line("Nonce", "Nonce: 1234567"), "nonce"),
        (_replace_line("Nonce", "Nonce: 1234567!8"), "nonce"),
        (_replace_line("Issued At", "Issued At: yesterday"), "RFC 3339"),
        (_replace_line("Issued At", "Issued At: 2021-02-30T16:25:24Z"), "valid date"),
        (_replace_line("URI", "URI: not a uri"), "URI"),
        (EXAMPLE.replace("\n", "\r\n"), "CR"),
        (EXAMPLE + "\n", "unexpected line"),
        (EXAMPLE.replace("Version: 1\n", ""), "Version"),
        (EXAMPLE.replace("Terms of Service", "Terms\tof Service"), "statement"),
        (EXAMPLE.replace("- https://example.com", "- https://exa mple.com"), "resource"),
        ("", "first line"),
        ("x" * 70_000, "over"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(text, detail):
    with pytest.raises(SiweMessageError, match=detail):
        parse_message(text)


def test_times():
    assert parse_date_time("2021-09-30T16:25:24Z", "t") == 1633019124.0
    assert parse_date_time("2021-09-30T18:25:24.5+02:00", "t") == 1633019124.5
    assert parse_date_time("2016-12-31T23:59:60Z", "t") == parse_date_time(
        "2017-01-01T00:00:00Z", "t"
    )


# -- properties --------------------------------------------------------------------------

alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
hosts = st.lists(labels, min_size=1, max_size=3).map(".".join)
domains = st.tuples(hosts, st.none() | st.integers(1, 65535)).map(
    lambda parts: parts[0] + (f":{parts[1]}" if parts[1] else "")
)
paths = st.text(alphabet=alnum + "-._~!$&'()*+,;=:@/", max_size=20)
uris = st.tuples(st.sampled_from(["https", "http", "ipfs", "did"]), domains, paths).map(
    lambda p: f"{p[0]}://{p[1]}/{p[2]}"
)
addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
statements = st.text(alphabet=alnum + " -._~:/?#[]@!$&'()*+,;=", max_size=60)
times = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(1970, 2200),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["", ".0", ".123", ".999999"]),
    st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00"]),
)
messages = st.builds(
    SiweMessage,
    domain=domains,
    address=addresses,
    uri=uris,
    chain_id=st.integers(1, 2**64),
    nonce=st.text(alphabet=alnum, min_size=8, max_size=40),
    issued_at=times,
    scheme=st.none() | st.sampled_from(["https", "http"]),
    statement=st.none() | statements,
    expiration_time=st.none() | times,
    not_before=st.none() | times,
    request_id=st.none() | st.text(alphabet=alnum + "-._~!$&'()*+,;=:@", max_size=20),
    resources=st.none() | st.lists(uris, max_size=4).map(tuple),
)


@given(messages)
def test_well_formed_messages_round_trip(message):
    text = format_message(message)
    assert parse_message(text) == message
    assert format_message(parse_message(text)) == text


@given(messages, st.data())
def test_damaged_messages_parse_or_are_refused_never_crash(message, data):
    text = format_message(message)
    position = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 5))
    insert = data.draw(st.text(max_size=5))
    damaged = text[:position] + insert + text[position + cut :]
    try:
        parsed = parse_message(damaged)
    except SiweMessageError:
        return
    assert format_message(parsed) == damaged


@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused(text):
    try:
        parsed = parse_message(text)
    except SiweMessageError:
        return
    assert format_message(parsed) == text
