"""Properties of the CBOR and COSE codec: deterministic encoding, strict decoding, and
statements and receipts that prove only what they were made for."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from scittlib import statement

import rfc9162
from trustee.scitt import (
    ReceiptError,
    StatementError,
    build_receipt,
    decode_sign1,
    entry_of,
    key_set_bytes,
    parse_key_set,
    verify_receipt,
    verify_statement,
)
from trustee.scitt import cbor as scitt_cbor
from trustee.scitt.keys import ES256, CoseKey, sign

scalars = st.one_of(
    st.integers(-(2**63), 2**64 - 1), st.binary(max_size=40), st.text(max_size=20), st.booleans()
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.integers(-1000, 1000), st.text(max_size=5)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


@given(values)
def test_encoding_round_trips_and_is_deterministic(value) -> None:
    encoded = scitt_cbor.encode(value)
    assert scitt_cbor.decode(encoded) == value
    assert scitt_cbor.encode(scitt_cbor.decode(encoded)) == encoded


@given(st.dictionaries(st.integers(-(2**20), 2**20), st.integers(), min_size=2, max_size=8))
def test_map_keys_are_in_bytewise_order_of_their_encoding(mapping) -> None:
    encoded = scitt_cbor.encode(mapping)
    keys = list(cbor2.loads(encoded))
    assert [cbor2.dumps(k) for k in keys] == sorted(cbor2.dumps(k) for k in keys)


def test_rfc8949_order_differs_from_length_first() -> None:
    assert scitt_cbor.encode({24: 1, -1: 2}).hex() == "a21818012002"


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff", b"\x9f\x01\xff", b"\x5f\x41\x01\xff", b"\xa2\x01\x01\x01\x02", b"\x01\x02"],
)
def test_strict_decoding_refuses(data: bytes) -> None:
    with pytest.raises(scitt_cbor.CBORError):
        scitt_cbor.decode(data)


SEED = statement("EdDSA")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SEED) - 1), st.integers(1, 255))
def test_any_flipped_byte_is_refused_or_changes_nothing_signed(position: int, flip: int) -> None:
    data = bytearray(SEED)
    data[position] ^= flip
    try:
        checked = verify_statement(bytes(data))
    except StatementError:
        return
    assert checked.entry == entry_of(decode_sign1(SEED))


def _receipt_for(entries: list[bytes], index: int, key: ec.EllipticCurvePrivateKey) -> bytes:
    tree = rfc9162.Tree(entries)
    public = CoseKey.from_public_key(key.public_key())
    return build_receipt(
        tree_size=len(entries),
        leaf_index=index,
        path=tree.path(index, len(entries)),
        root=tree.root(len(entries)),
        alg=ES256,
        kid=public.thumbprint(),
        sign=lambda message: sign(ES256, key, message),
    )


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=20), st.data())
def test_receipts_prove_their_own_leaf_only(entries: list[bytes], data) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    keys = parse_key_set(key_set_bytes([(CoseKey.from_public_key(key.public_key()), ES256)]))
    index = data.draw(st.integers(0, len(entries) - 1))
    receipt = _receipt_for(entries, index, key)
    checked = verify_receipt(receipt, entries[index], keys)
    assert (checked.tree_size, checked.leaf_index) == (len(entries), index)
    assert checked.root == rfc9162.root_of(entries)
    with pytest.raises(ReceiptError):
        verify_receipt(receipt, entries[index] + b"x", keys)
    other = ec.generate_private_key(ec.SECP256R1())
    others = parse_key_set(key_set_bytes([(CoseKey.from_public_key(other.public_key()), ES256)]))
    with pytest.raises(ReceiptError):
        verify_receipt(receipt, entries[index], others)


def test_a_key_set_cannot_rename_a_key() -> None:
    key = CoseKey.from_public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    forged = scitt_cbor.encode([key.to_map(kid=b"\x00" * 32, alg=ES256)])
    with pytest.raises(ReceiptError):
        parse_key_set(forged)
