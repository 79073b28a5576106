"""Published vectors and a second library for keccak, addresses, secp256k1 and EIP-191/712."""

import base64
import hashlib
import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_keys import keys as eth_keys
from eth_utils import to_checksum_address as eth_utils_checksum
from hypothesis import given
from hypothesis import strategies as st

from trustee.crypto.address import address_from_public_key, parse_address, to_checksum_address
from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.crypto.errors import CryptoError
from trustee.crypto.keccak import keccak256
from trustee.crypto.messages import eip191_hash, eip712_hash
from trustee.crypto.secp256k1 import (
    CURVE_ORDER,
    check_private_key,
    es256k_recover_candidates,
    es256k_sign,
    public_key_from_private,
    recover_public_key,
    sign_recoverable,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "secp256k1.json").read_text()
)


@pytest.mark.parametrize("vector", VECTORS["keccak256"])
def test_keccak_vectors(vector: dict) -> None:
    data = bytes.fromhex(vector["input_hex"])
    assert keccak256(data).hex() == vector["digest"]
    assert keccak256(data) != hashlib.sha3_256(data).digest()  # NIST SHA3 is another function


@pytest.mark.parametrize("vector", VECTORS["addresses"], ids=lambda v: v["address"][:10])
def test_address_vectors(vector: dict) -> None:
    private_key = bytes.fromhex(vector["private_key"])
    assert address_from_public_key(public_key_from_private(private_key)) == vector["address"]
    assert eth_keys.PrivateKey(private_key).public_key.to_checksum_address() == vector["address"]


@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw: bytes) -> None:
    assert to_checksum_address(raw) == eth_utils_checksum(raw)


def test_parse_address_rules() -> None:
    good = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    assert parse_address(good.lower()) == good
    assert parse_address("0x" + good[2:].upper()) == good
    with pytest.raises(CryptoError, match="checksum"):
        parse_address("0x7e5F4552091A69125d5DfCb7b8C2659029395Bdf")
    for bad in ("", "0x", "7E5F4552091A69125d5DfCb7b8C2659029395Bdf", good + "00", "0x" + "g" * 40):
        with pytest.raises(CryptoError):
            parse_address(bad)


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=200))
def test_eip191_signature_recovers_with_eth_account(seed: bytes, message: bytes) -> None:
    private_key = (int.from_bytes(seed, "big") % (CURVE_ORDER - 1) + 1).to_bytes(32, "big")
    signature = sign_recoverable(eip191_hash(message), private_key)
    ethereum_style = signature[:64] + bytes([signature[64] + 27])
    expected = address_from_public_key(public_key_from_private(private_key))
    assert (
        Account.recover_message(encode_defunct(primitive=message), signature=ethereum_style)
        == expected
    )
    assert recover_public_key(eip191_hash(message), signature) == public_key_from_private(
        private_key
    )
    # Deterministic (RFC 6979) and identical to eth-account's signature.
    assert (
        ethereum_style
        == Account.sign_message(encode_defunct(primitive=message), private_key).signature
    )


TYPED = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
        ],
        "Rental": [{"name": "car", "type": "string"}, {"name": "driver", "type": "address"}],
    },
    "primaryType": "Rental",
    "domain": {"name": "agency", "chainId": 1},
    "message": {"car": "KITT", "driver": "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"},
}


def test_eip712_hash_matches_eth_account_signature() -> None:
    key = bytes.fromhex(VECTORS["addresses"][3]["private_key"])
    ours = sign_recoverable(eip712_hash(TYPED), key)
    theirs = Account.sign_message(encode_typed_data(full_message=TYPED), key).signature
    assert ours[:64] + bytes([ours[64] + 27]) == theirs
    with pytest.raises(CryptoError):
        eip712_hash({"types": {}})


@given(st.binary(min_size=1, max_size=100))
def test_es256k_sign_recovers_and_is_low_s(message: bytes) -> None:
    key = bytes.fromhex(VECTORS["addresses"][2]["private_key"])
    signature = es256k_sign(message, key)
    assert int.from_bytes(signature[32:], "big") <= CURVE_ORDER // 2
    assert public_key_from_private(key) in es256k_recover_candidates(message, signature)


def test_private_key_range() -> None:
    for bad in (bytes(32), CURVE_ORDER.to_bytes(32, "big"), b"\x01" * 31):
        with pytest.raises(CryptoError):
            check_private_key(bad)


@given(st.binary(max_size=300))
def test_b64url_round_trip_and_matches_stdlib(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert encoded == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64url_decode(encoded) == data


@pytest.mark.parametrize("text", ["A", "AB", "QR", "AA==", "A+A/", "AA\n", "AA AA", "é"])
def test_b64url_refuses_non_canonical(text: str) -> None:
    with pytest.raises((CryptoError, UnicodeEncodeError)):
        b64url_decode(text)
