"""ECIES to a secp256k1 public key. The documented byte format is proven by an independent
build on pyca/cryptography (ECDH + HKDF-SHA256 + AES-GCM) in both directions."""

import os

import ecies
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from trustee.crypto.ecies import OVERHEAD, decrypt_with, encrypt_to
from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import (
    CURVE_ORDER,
    generate_private_key,
    public_key_from_private,
)

P = 2**256 - 2**32 - 977  # the secp256k1 field prime
RECIPIENT = generate_private_key()
RECIPIENT_PUBLIC = public_key_from_private(RECIPIENT)


# --- The independent implementation, following the module docstring.


def _uncompressed(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _aes_key(ephemeral: bytes, shared_point: bytes) -> bytes:
    return HKDF(hashes.SHA256(), length=32, salt=None, info=b"").derive(ephemeral + shared_point)


def reference_encrypt(recipient_secret: bytes, plaintext: bytes) -> bytes:
    """Encrypt with cryptography only. ECDH gives just x of the shared point; the format needs
    the whole point, which the test can compute as (e·r)·G because it knows both scalars."""
    r = int.from_bytes(recipient_secret, "big")
    recipient = ec.derive_private_key(r, ec.SECP256K1()).public_key()
    ephemeral_key = ec.generate_private_key(ec.SECP256K1())
    ephemeral = _uncompressed(ephemeral_key.public_key())
    e = ephemeral_key.private_numbers().private_value
    shared = _uncompressed(ec.derive_private_key(e * r % CURVE_ORDER, ec.SECP256K1()).public_key())
    assert shared[1:33] == ephemeral_key.exchange(ec.ECDH(), recipient)

    nonce = os.urandom(16)
    sealed = AESGCM(_aes_key(ephemeral, shared)).encrypt(nonce, plaintext, None)
    return ephemeral + nonce + sealed[-16:] + sealed[:-16]


def reference_decrypt(recipient_secret: bytes, ciphertext: bytes) -> bytes:
    """Decrypt with cryptography only: ECDH for x, the curve equation for the two possible y,
    and the GCM tag to tell which one the sender used."""
    ephemeral, nonce, tag, body = (
        ciphertext[:65],
        ciphertext[65:81],
        ciphertext[81:97],
        ciphertext[97:],
    )
    recipient = ec.derive_private_key(int.from_bytes(recipient_secret, "big"), ec.SECP256K1())
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), ephemeral)
    x = recipient.exchange(ec.ECDH(), peer)
    y = pow(int.from_bytes(x, "big") ** 3 + 7, (P + 1) // 4, P)
    for candidate in (y, P - y):
        shared = b"\x04" + x + candidate.to_bytes(32, "big")
        try:
            return AESGCM(_aes_key(ephemeral, shared)).decrypt(nonce, body + tag, None)
        except InvalidTag:
            continue
    raise AssertionError("neither y opens the ciphertext")


# --- Format proofs.


@pytest.mark.parametrize("plaintext", [b"", b"x", b"master key share" * 5])
def test_we_decrypt_an_independently_built_ciphertext(plaintext: bytes) -> None:
    assert decrypt_with(RECIPIENT, reference_encrypt(RECIPIENT, plaintext)) == plaintext


@pytest.mark.parametrize("plaintext", [b"", b"x", b"master key share" * 5])
def test_an_independent_build_decrypts_ours(plaintext: bytes) -> None:
    ciphertext = encrypt_to(RECIPIENT_PUBLIC, plaintext)
    assert len(ciphertext) == len(plaintext) + OVERHEAD == len(plaintext) + 97
    assert ciphertext[0] == 0x04
    assert reference_decrypt(RECIPIENT, ciphertext) == plaintext


def test_a_changed_global_eciespy_config_does_not_change_our_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ecies.ECIES_CONFIG, "symmetric_nonce_length", 12)
    monkeypatch.setattr(ecies.ECIES_CONFIG, "is_ephemeral_key_compressed", True)
    ciphertext = encrypt_to(RECIPIENT_PUBLIC, b"pinned")
    assert reference_decrypt(RECIPIENT, ciphertext) == b"pinned"
    assert decrypt_with(RECIPIENT, ciphertext) == b"pinned"


# --- Behaviour.


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=1024))
def test_round_trip_property(plaintext: bytes) -> None:
    assert decrypt_with(RECIPIENT, encrypt_to(RECIPIENT_PUBLIC, plaintext)) == plaintext


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda pk: pk, id="uncompressed-65"),
        pytest.param(lambda pk: pk[1:], id="raw-64"),
        pytest.param(
            lambda pk: bytes((2 + (pk[64] & 1),)) + pk[1:33],
            id="compressed-33",
        ),
    ],
)
def test_public_key_forms(form) -> None:
    assert decrypt_with(RECIPIENT, encrypt_to(form(RECIPIENT_PUBLIC), b"hi")) == b"hi"


def test_each_message_has_a_fresh_ephemeral_key() -> None:
    ciphertexts = [encrypt_to(RECIPIENT_PUBLIC, b"same") for _ in range(20)]
    assert len({c[:65] for c in ciphertexts}) == 20


def test_wrong_private_key_fails() -> None:
    ciphertext = encrypt_to(RECIPIENT_PUBLIC, b"secret")
    with pytest.raises(CryptoError, match=r"^ECIES decryption failed$"):
        decrypt_with(generate_private_key(), ciphertext)


@pytest.mark.parametrize(
    ("region", "indices"),
    [
        ("ephemeral-key", range(1, 65)),
        ("nonce", range(65, 81)),
        ("tag", range(81, 97)),
        ("ciphertext", range(97, 113)),
    ],
)
def test_tampering_with_any_region_fails(region: str, indices: range) -> None:
    ciphertext = encrypt_to(RECIPIENT_PUBLIC, b"sixteen byte msg")
    for index in indices:
        tampered = bytearray(ciphertext)
        tampered[index] ^= 0x01
        with pytest.raises(CryptoError, match=r"^ECIES decryption failed$"):
            decrypt_with(RECIPIENT, bytes(tampered))


def test_hybrid_ephemeral_key_encoding_is_refused() -> None:
    # libsecp256k1 (so eciespy) would parse 0x06/0x07 "hybrid" points; we keep one encoding.
    ciphertext = encrypt_to(RECIPIENT_PUBLIC, b"x")
    hybrid = bytes((6 + (ciphertext[64] & 1),)) + ciphertext[1:]
    assert ecies.decrypt(RECIPIENT, hybrid) == b"x"  # what we guard against
    with pytest.raises(CryptoError):
        decrypt_with(RECIPIENT, hybrid)


@pytest.mark.parametrize(
    "ciphertext",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x04" * (OVERHEAD - 1), id="shorter-than-overhead"),
        pytest.param(b"\x04" + b"\x00" * 64 + os.urandom(40), id="point-not-on-curve"),
        pytest.param(None, id="none"),
        pytest.param("04" * 100, id="hex-text"),
    ],
)
def test_malformed_ciphertexts(ciphertext) -> None:
    with pytest.raises(CryptoError):
        decrypt_with(RECIPIENT, ciphertext)


def test_truncated_ciphertext_fails() -> None:
    ciphertext = encrypt_to(RECIPIENT_PUBLIC, b"some plaintext")
    for cut in (1, 16, len(ciphertext) - OVERHEAD):
        with pytest.raises(CryptoError):
            decrypt_with(RECIPIENT, ciphertext[:-cut])


@pytest.mark.parametrize(
    "public_key",
    [b"", b"\x04" + b"\x00" * 64, b"\x02" + b"\xff" * 32, b"\x05" + RECIPIENT_PUBLIC[1:], 42],
    ids=["empty", "zero-point", "x-beyond-field", "bad-prefix", "not-bytes"],
)
def test_bad_public_keys(public_key) -> None:
    with pytest.raises(CryptoError):
        encrypt_to(public_key, b"x")


@pytest.mark.parametrize(
    "private_key",
    [b"", bytes(32), CURVE_ORDER.to_bytes(32, "big"), RECIPIENT.hex()],
    ids=["empty", "zero", "curve-order", "hex-text"],
)
def test_bad_private_keys(private_key) -> None:
    ciphertext = encrypt_to(RECIPIENT_PUBLIC, b"x")
    with pytest.raises(CryptoError):
        decrypt_with(private_key, ciphertext)


def test_plaintext_must_be_bytes() -> None:
    with pytest.raises(CryptoError):
        encrypt_to(RECIPIENT_PUBLIC, "text")
