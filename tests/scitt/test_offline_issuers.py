"""The offline API an issuer or recipient imports without a server: PEM keys
(:mod:`trustee.scitt.pem`) and one verdict over a statement and its receipts
(:mod:`trustee.scitt.check`)."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from trustee.ledger import merkle
from trustee.scitt import (
    BadKey,
    build_receipt,
    decode_sign1,
    entry_of,
    load_signing_key,
    load_verifying_key,
    transparent_statement,
    verdict_of,
    verify_statement,
)
from trustee.scitt.keys import ES256, sign

KINDS = {
    "EdDSA": ed25519.Ed25519PrivateKey.generate,
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ES256K": lambda: ec.generate_private_key(ec.SECP256K1()),
}


def pem(key, fmt=serialization.PrivateFormat.PKCS8, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_key_file_signs_a_statement_that_names_its_key(kind: str) -> None:
    private = KINDS[kind]()
    key = load_signing_key(pem(private))
    data = key.sign_statement(b"evidence", content_type="text/plain", subject="urn:s")
    statement = verify_statement(data)
    assert statement.algorithm == kind
    assert statement.key == key.public
    assert (statement.subject, statement.content_type) == ("urn:s", "text/plain")
    if kind == "ES256K":
        assert statement.key_source == "kid" and statement.kid == key.address.encode()
    else:
        assert statement.key_source == "cnf" and key.address is None


def test_sec1_ec_private_keys_load_as_openssl_writes_them() -> None:
    private = ec.generate_private_key(ec.SECP256K1())
    key = load_signing_key(pem(private, serialization.PrivateFormat.TraditionalOpenSSL))
    assert b"BEGIN EC PRIVATE KEY" in pem(private, serialization.PrivateFormat.TraditionalOpenSSL)
    assert verify_statement(key.sign_statement(b"x")).address == key.address


def test_encrypted_key_files_open_with_their_passphrase_only() -> None:
    data = pem(ed25519.Ed25519PrivateKey.generate(), password=b"pw")
    assert load_signing_key(data, b"pw").public.kty == 1
    for password in (None, b"wrong"):
        with pytest.raises(BadKey):
            load_signing_key(data, password)
    with pytest.raises(BadKey):  # a passphrase for a clear key is a mistake worth saying
        load_signing_key(pem(ed25519.Ed25519PrivateKey.generate()), b"pw")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a key",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        pem(ec.generate_private_key(ec.SECP521R1())),
        b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 70_000,
    ],
    ids=["empty", "text", "bad-base64", "rsa", "p521", "oversized"],
)
def test_what_is_not_a_usable_key_is_bad_key(data: bytes) -> None:
    with pytest.raises(BadKey):
        load_signing_key(data)


def test_a_signing_key_never_shows_its_secret() -> None:
    private = ec.generate_private_key(ec.SECP256K1())
    secret = private.private_numbers().private_value.to_bytes(32, "big")
    key = load_signing_key(pem(private))
    assert secret.hex() not in repr(key) and str(secret) not in repr(key)
    assert "_private" not in repr(key)


def test_a_verifying_key_from_a_public_key_a_certificate_or_a_private_key() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    expected = load_signing_key(pem(private)).public
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receipts")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    for data in (public, certificate, pem(private)):
        assert load_verifying_key(data) == expected
    with pytest.raises(BadKey):
        load_verifying_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


# -- one verdict -------------------------------------------------------------------------------

RECEIPT_KEY = ec.generate_private_key(ec.SECP256R1())
RECEIPT_PUBLIC = load_signing_key(pem(RECEIPT_KEY)).public
KEYS = {RECEIPT_PUBLIC.thumbprint(): RECEIPT_PUBLIC}


def receipt_for(statement: bytes, kid: bytes | None = None) -> bytes:
    """A receipt for ``statement`` as the only leaf of a one-leaf log."""
    entry = entry_of(decode_sign1(statement))
    return build_receipt(
        tree_size=1,
        leaf_index=0,
        path=[],
        root=merkle.leaf_hash(entry),
        alg=ES256,
        kid=kid or RECEIPT_PUBLIC.thumbprint(),
        sign=lambda message: sign(ES256, RECEIPT_KEY, message),
        issuer="example.org/log",
    )


STATEMENT = load_signing_key(pem(ed25519.Ed25519PrivateKey.generate())).sign_statement(
    b"evidence", issuer="urn:device"
)


def test_a_statement_and_its_receipt_or_the_transparent_statement_are_valid() -> None:
    receipt = receipt_for(STATEMENT)
    for verdict in (
        verdict_of(STATEMENT, KEYS, receipt),
        verdict_of(transparent_statement(STATEMENT, [receipt]), KEYS),
    ):
        assert verdict.valid and verdict.reason is None
        summary = verdict.to_dict()
        assert summary["issuer"] == "urn:device" and summary["algorithm"] == "EdDSA"
        assert summary["receipts"][0]["issuer"] == "example.org/log"


def _cases() -> dict[str, tuple[bytes, bytes | None, str]]:
    receipt = receipt_for(STATEMENT)
    other = load_signing_key(pem(ed25519.Ed25519PrivateKey.generate())).sign_statement(b"other")
    message = decode_sign1(STATEMENT)
    forged = message.encode()[:-10] + bytes(10)  # the signature's last bytes zeroed
    return {
        "garbage": (b"\xa1\x00", None, "malformed"),
        "oversized": (b"\x00" * (2 * 1024 * 1024), None, "too_large"),
        "no receipt": (STATEMENT, None, "no_receipt"),
        "receipts not a list": (message.encode(unprotected={394: "x"}), None, "bad_receipt"),
        "receipt of another statement": (STATEMENT, receipt_for(other), "bad_receipt"),
        "receipt key not in the set": (
            STATEMENT,
            receipt_for(STATEMENT, b"\x01" * 32),
            "bad_receipt",
        ),
        "receipt not COSE": (STATEMENT, b"\x00", "bad_receipt"),
        "forged statement": (forged, receipt, "bad_signature"),
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_each_failure_has_its_reason(case: str) -> None:
    data, receipt, reason = _cases()[case]
    verdict = verdict_of(data, KEYS, receipt)
    assert (verdict.valid, verdict.reason) == (False, reason)
    assert verdict.detail and verdict.to_dict() == {
        "valid": False,
        "reason": reason,
        "detail": verdict.detail,
    }
