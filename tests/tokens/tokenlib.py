"""Independent token builders for tests: JOSE assembled by hand, signed by other libraries."""

import base64
import hashlib
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signing_input(header: dict, payload: dict) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())


def openssl_rs(private_key: bytes, message: bytes, *, high_s: bool | None = None) -> bytes:
    """ECDSA secp256k1/SHA-256 by OpenSSL (random k), r‖s, forced to high or low s if asked."""
    key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    if (high_s is True and s <= N // 2) or (high_s is False and s > N // 2):
        s = N - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def compact(header: dict, payload: dict, signature: bytes) -> str:
    return signing_input(header, payload) + "." + b64(signature)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
