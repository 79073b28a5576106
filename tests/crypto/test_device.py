"""Device keys: every accepted form, signatures made by other libraries, clear refusals.

Signatures come from pyca/cryptography (OpenSSL: P-256, Ed25519 and secp256k1 ECDSA, which
does not normalise s) and, for address keys, from coincurve and eth-account; keys in PEM and
JWK form are written here with the standard library, not with the module under test.
"""

import base64
import hashlib
import json

import coincurve
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_account import Account

from trustee.crypto.device import (
    REASONS,
    DeviceKey,
    check_ed25519_public_key,
    parse_device_key,
    verify_evidence,
)
from trustee.crypto.errors import CryptoError

EVIDENCE = '{"door":"unlocked","odometer_km":48213,"at":"2026-03-01T10:00:00Z"}'


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem(public_key) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def point(public_key, compressed=False) -> bytes:
    fmt = (
        serialization.PublicFormat.CompressedPoint
        if compressed
        else serialization.PublicFormat.UncompressedPoint
    )
    return public_key.public_bytes(serialization.Encoding.X962, fmt)


def ec_jwk(public_key, crv: str) -> dict:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64u(numbers.x.to_bytes(32, "big")),
        "y": b64u(numbers.y.to_bytes(32, "big")),
    }


def recovers(digest: bytes, rs: bytes, recovery: int, key: DeviceKey) -> bool:
    """Whether coincurve recovers ``key`` from ``rs`` with ``recovery``: the expected v."""
    recovered = coincurve.PublicKey.from_signature_and_message(
        rs + bytes([recovery]), digest, hasher=None
    )
    return recovered.format(compressed=False).hex() == key.public_key


def raw_ecdsa(private_key, message: bytes) -> bytes:
    r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class Signer:
    """One device: its key in every form we accept, and a way to sign."""

    def __init__(self, alg: str):
        self.alg = alg
        if alg == "EdDSA":
            self.private = ed25519.Ed25519PrivateKey.generate()
            raw = self.private.public_key().public_bytes_raw()
            self.canonical = raw.hex()
            self.forms = {
                "hex": raw.hex(),
                "hex-0x": "0x" + raw.hex().upper(),
                "pem": pem(self.private.public_key()),
                "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)},
            }
        else:
            curve, crv = (
                (ec.SECP256K1(), "secp256k1") if alg == "ES256K" else (ec.SECP256R1(), "P-256")
            )
            self.private = ec.generate_private_key(curve)
            public = self.private.public_key()
            self.canonical = point(public).hex()
            self.forms = {
                "hex": point(public).hex(),
                "hex-0x": "0x" + point(public).hex(),
                "hex-compressed": point(public, compressed=True).hex(),
                "pem": pem(public),
                "pem-crlf": pem(public).replace("\n", "\r\n"),
                "jwk": ec_jwk(public, crv),
                "jwk-json": json.dumps({**ec_jwk(public, crv), "kid": "dev-1", "use": "sig"}),
            }
            if alg == "ES256K":
                self.forms["hex-64"] = point(public)[1:].hex()

    def sign(self, message: bytes) -> bytes:
        if self.alg == "EdDSA":
            return self.private.sign(message)
        return raw_ecdsa(self.private, message)


ALGS = ["ES256K", "EdDSA", "ES256"]
SIGNERS = {alg: Signer(alg) for alg in ALGS}
FORM_CASES = [(alg, form) for alg in ALGS for form in SIGNERS[alg].forms]


@pytest.mark.parametrize(("alg", "form"), FORM_CASES)
def test_every_form_parses_to_one_canonical_key_and_verifies(alg, form):
    signer = SIGNERS[alg]
    key = parse_device_key(alg, signer.forms[form])
    assert key.alg == alg
    assert key.public_key == signer.canonical
    assert not key.public_key.startswith("0x")
    signature = signer.sign(EVIDENCE.encode())
    assert key.verify(EVIDENCE.encode(), signature)
    assert verify_evidence(key, EVIDENCE, b64u(signature)) == (True, "ok")


@pytest.mark.parametrize("alg", ALGS)
def test_failures_say_why(alg):
    signer = SIGNERS[alg]
    key = parse_device_key(alg, signer.forms["pem"])
    signature = signer.sign(EVIDENCE.encode())
    # truncated
    assert verify_evidence(key, EVIDENCE, b64u(signature[:-1])) == (
        False,
        "signature_wrong_length",
    )
    assert verify_evidence(key, EVIDENCE, "") == (False, "signature_wrong_length")
    # forged: evidence altered after signing
    forged = EVIDENCE.replace("48213", "12000")
    assert verify_evidence(key, forged, b64u(signature)) == (False, "signature_mismatch")
    # a bit flipped in the signature
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert verify_evidence(key, EVIDENCE, b64u(flipped)) == (False, "signature_mismatch")
    # another device's key
    other = parse_device_key(alg, Signer(alg).forms["jwk"])
    assert verify_evidence(other, EVIDENCE, b64u(signature)) == (False, "signature_mismatch")
    # padding is optional (RKVST's sample pads), but only the exact padding
    padded = base64.urlsafe_b64encode(signature).decode()
    assert padded.endswith("=")
    assert verify_evidence(key, EVIDENCE, padded) == (True, "ok")
    assert verify_evidence(key, EVIDENCE, padded + "=") == (False, "signature_not_base64url")
    assert verify_evidence(key, EVIDENCE, padded[:-1]) == (False, "signature_not_base64url")
    # not base64url: standard alphabet, junk
    standard = base64.b64encode(b"\xfb\xff" + signature[2:]).decode().rstrip("=")
    assert verify_evidence(key, EVIDENCE, standard)[1] == "signature_not_base64url"
    assert verify_evidence(key, EVIDENCE, "not base64!") == (False, "signature_not_base64url")
    assert verify_evidence(key, EVIDENCE, None) == (False, "signature_not_base64url")
    assert verify_evidence(key, "\ud800", b64u(signature)) == (False, "evidence_not_text")
    # verify() itself never raises
    assert key.verify(EVIDENCE.encode(), b"") is False
    assert key.verify(EVIDENCE, signature) is False
    assert key.verify(EVIDENCE.encode(), b"\x00" * 64) is False
    assert key.verify(EVIDENCE.encode(), b"\xff" * 64) is False


def test_es256_der_signatures_are_refused_by_length():
    signer = SIGNERS["ES256"]
    key = parse_device_key("ES256", signer.forms["hex"])
    der = signer.private.sign(EVIDENCE.encode(), ec.ECDSA(hashes.SHA256()))
    assert verify_evidence(key, EVIDENCE, b64u(der)) == (False, "signature_wrong_length")


def test_es256k_accepts_high_and_low_s_and_65_byte_form():
    signer = SIGNERS["ES256K"]
    key = parse_device_key("ES256K", signer.forms["hex"])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    message = EVIDENCE.encode()
    signature = signer.sign(message)
    r, s = signature[:32], int.from_bytes(signature[32:], "big")
    other_s = (n - s).to_bytes(32, "big")
    assert key.verify(message, signature)
    assert key.verify(message, r + other_s)
    digest = hashlib.sha256(message).digest()
    recovery = next(v for v in (0, 1) if recovers(digest, signature, v, key))
    flipped = recovery ^ 1  # negating s negates the nonce point: the other y parity
    for rs, right in ((signature, recovery), (r + other_s, flipped)):
        for v in (*range(4), *range(27, 31), 5, 31, 255):
            expected = (True, "ok") if v in (right, right + 27) else (False, "recovery_id_mismatch")
            assert verify_evidence(key, EVIDENCE, b64u(rs + bytes([v]))) == expected, v


def test_es256k_65_byte_form_refuses_a_wrong_recovery_byte_with_its_own_reason():
    """Before the recovery byte was checked, r‖s‖v verified under a public key with any v."""
    signer = SIGNERS["ES256K"]
    key = parse_device_key("ES256K", signer.forms["hex"])
    signature = signer.sign(EVIDENCE.encode())
    digest = hashlib.sha256(EVIDENCE.encode()).digest()
    good = next(v for v in (0, 1) if recovers(digest, signature, v, key))
    assert verify_evidence(key, EVIDENCE, b64u(signature + bytes([good]))) == (True, "ok")
    wrong = signature + bytes([good ^ 1])
    assert verify_evidence(key, EVIDENCE, b64u(wrong)) == (False, "recovery_id_mismatch")
    assert not key.verify(EVIDENCE.encode(), wrong)
    assert key.check(EVIDENCE.encode(), wrong) == "recovery_id_mismatch"
    # A forged r‖s stays a plain mismatch whatever its v.
    forged = bytes([signature[0] ^ 1]) + signature[1:] + bytes([good])
    assert verify_evidence(key, EVIDENCE, b64u(forged)) == (False, "signature_mismatch")
    assert verify_evidence(key, EVIDENCE + " ", b64u(signature + bytes([good]))) == (
        False,
        "signature_mismatch",
    )
    assert "recovery_id_mismatch" in REASONS


# --- Ethereum address keys (checked by recovery) --------------------------------------------


@pytest.fixture(scope="module")
def wallet():
    secret = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
    return secret, Account.from_key(secret).address


def test_address_key_with_64_byte_signatures_from_openssl(wallet):
    secret, address = wallet
    key = parse_device_key("ES256K", address.lower())
    assert key.public_key == address  # EIP-55, as eth-account writes it
    assert key.is_address
    with pytest.raises(CryptoError, match="address"):
        key.jwk()
    private = ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256K1())
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    for attempt in range(6):  # OpenSSL signs with random k: meet both s halves and both ids
        message = f"{EVIDENCE}#{attempt}".encode()
        signature = raw_ecdsa(private, message)
        s = int.from_bytes(signature[32:], "big")
        assert verify_evidence(key, message.decode(), b64u(signature)) == (True, "ok")
        high = signature[:32] + (n - s).to_bytes(32, "big")
        assert key.verify(message, high)
        assert not key.verify(message + b"!", signature)


def test_address_key_with_65_byte_signatures(wallet):
    secret, address = wallet
    key = parse_device_key("ES256K", address)
    message = EVIDENCE.encode()
    digest = hashlib.sha256(message).digest()
    by_coincurve = coincurve.PrivateKey(secret).sign_recoverable(digest, hasher=None)
    assert by_coincurve[64] in (0, 1)
    by_eth_account = bytes(Account.unsafe_sign_hash(digest, secret).signature)
    assert by_eth_account[64] in (27, 28)
    for signature in (by_coincurve, by_eth_account):
        assert verify_evidence(key, EVIDENCE, b64u(signature)) == (True, "ok")
        wrong_v = signature[:64] + bytes([signature[64] ^ 1])
        assert verify_evidence(key, EVIDENCE, b64u(wrong_v)) == (False, "signature_mismatch")
        assert verify_evidence(key, EVIDENCE + " ", b64u(signature))[1] == "signature_mismatch"
    other = Account.create().address
    assert not parse_device_key("ES256K", other).verify(message, by_coincurve)


def test_address_checksum_is_enforced(wallet):
    _, address = wallet
    broken = address[:2] + address[2:].swapcase()
    assert broken != address and broken[2:] not in (address[2:].lower(), address[2:].upper())
    with pytest.raises(CryptoError, match="EIP-55"):
        parse_device_key("ES256K", broken)
    with pytest.raises(CryptoError, match="only a key for ES256K"):
        parse_device_key("ES256", address)


# --- canonical form and JWK -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_jwk_round_trip_and_direct_construction(alg):
    signer = SIGNERS[alg]
    key = parse_device_key(alg, signer.forms["pem"])
    again = parse_device_key(alg, key.jwk())
    assert again == key
    assert DeviceKey(alg, key.public_key) == key
    assert key.to_dict() == {"alg": alg, "public_key": signer.canonical}
    assert list(key.jwk()) == sorted(key.jwk())  # RFC 7638 member order
    with pytest.raises(CryptoError, match="canonical"):
        DeviceKey(alg, "0x" + key.public_key)


# --- bad keys --------------------------------------------------------------------------------


def test_wrong_curves_and_types_are_named():
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    cases = [
        ("ES256K", pem(p256), "expected an EC key on secp256k1"),
        ("ES256", pem(k1), "expected an EC key on secp256r1"),
        ("ES256", pem(ec.generate_private_key(ec.SECP384R1()).public_key()), "secp256r1"),
        ("EdDSA", pem(x25519.X25519PrivateKey.generate().public_key()), "expected an Ed25519"),
        ("EdDSA", pem(ed448.Ed448PrivateKey.generate().public_key()), "expected an Ed25519"),
        ("ES256", pem(rsa.generate_private_key(65537, 2048).public_key()), "RSA"),
        ("EdDSA", pem(p256), "expected an Ed25519"),
        ("ES256K", ec_jwk(p256, "P-256"), "crv secp256k1"),
        ("ES256", ec_jwk(k1, "secp256k1"), "crv P-256"),
        ("ES256", ec_jwk(k1, "P-256"), "not a point on P-256"),
        ("EdDSA", ec_jwk(p256, "P-256"), "kty OKP"),
        ("ES256K", {**ec_jwk(k1, "secp256k1"), "d": "AAAA"}, "private"),
        ("ES256K", {**ec_jwk(k1, "secp256k1"), "alg": "ES256"}, "alg"),
        ("ES256K", {**ec_jwk(k1, "secp256k1"), "x": "AA"}, "32 bytes"),
        ("ES256K", {**ec_jwk(k1, "secp256k1"), "x": "!!"}, "base64url"),
        ("ES256K", '{"kty": "EC", ', "not JSON"),
        ("ES256K", "[1, 2]", "secp256k1 public key"),
        ("ES256K", "04" + "00" * 64, "secp256k1"),
        ("ES256K", "ab" * 20, "33, 64 or 65 bytes"),
        ("ES256K", "zz", "secp256k1 public key"),
        ("EdDSA", "ab" * 33, "32-byte"),
        ("ES256", "ab" * 64, "33- or 65-byte"),
        ("ES256", "04" + "11" * 64, "not on the curve"),
        ("ES256K", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "PEM"),
        ("ES256K", 1234, "ES256K device key must be"),
        ("ES256K", b"\x04" * 65, "ES256K device key must be"),
        ("ES256K", "a" * 9000, "larger than"),
        ("RS256", "00", "alg must be one of ES256K, EdDSA, ES256"),
        ("es256k", "00", "alg must be one of"),
    ]
    for alg, public_key, fragment in cases:
        with pytest.raises(CryptoError, match=fragment):
            parse_device_key(alg, public_key)


def test_private_keys_are_refused():
    private = ec.generate_private_key(ec.SECP256K1())
    text = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(CryptoError, match="private key"):
        parse_device_key("ES256K", text)


# --- Ed25519 small-order keys ---------------------------------------------------------------

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P


def _decode(y: int) -> tuple[int, int]:
    """Pure-Python RFC 8032 §5.1.3 point decoding (x sign 0), for the test's own arithmetic."""
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    if (v * x * x - u) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    assert (v * x * x - u) % P == 0, "not on the curve"
    return x, y


def _add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return (
        (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P,
        (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P,
    )


def test_small_order_list_is_the_whole_torsion_subgroup():
    # Derive the eight points of order dividing 8 from one point of order 8; their y values
    # (and the non-canonical p, p + 1) are what check_ed25519_public_key must refuse.
    order8_y = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"
    order8 = _decode(int.from_bytes(bytes.fromhex(order8_y), "little"))
    points, current = [], (0, 1)
    for _ in range(8):
        points.append(current)
        current = _add(current, order8)
    assert current == (0, 1) and len(set(points)) == 8
    ys = {y for _, y in points} | {P, P + 1}
    for y in ys:
        for sign in (0, 0x80):
            encoded = bytearray(y.to_bytes(32, "little"))
            encoded[31] |= sign
            with pytest.raises(CryptoError):
                check_ed25519_public_key(bytes(encoded))
            with pytest.raises(CryptoError):
                parse_device_key("EdDSA", bytes(encoded).hex())


def test_identity_key_cannot_register():
    identity = b"\x01" + b"\x00" * 31
    # OpenSSL would accept R = identity, S = 0 for every message under this key.
    with pytest.raises(CryptoError, match="small-order"):
        parse_device_key("EdDSA", {"kty": "OKP", "crv": "Ed25519", "x": b64u(identity)})


def test_non_canonical_ed25519_encoding_is_refused():
    y = (P + 5).to_bytes(32, "little")
    with pytest.raises(CryptoError, match="canonical"):
        check_ed25519_public_key(y)
