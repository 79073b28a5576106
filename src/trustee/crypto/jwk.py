"""Public keys as JWKs (RFC 7517), the form JOSE libraries take keys in."""

from typing import Any

from trustee.crypto.encoding import b64url_encode
from trustee.crypto.secp256k1 import parse_public_key


def secp256k1_jwk(public_key: bytes, kid: str | None = None) -> dict[str, Any]:
    """RFC 8812 §3.1: ``kty: EC``, ``crv: secp256k1``, 32-byte ``x`` and ``y``."""
    point = parse_public_key(public_key)
    jwk: dict[str, Any] = {
        "kty": "EC",
        "crv": "secp256k1",
        "x": b64url_encode(point[1:33]),
        "y": b64url_encode(point[33:65]),
        "alg": "ES256K",
        "use": "sig",
    }
    if kid is not None:
        jwk["kid"] = kid
    return jwk
