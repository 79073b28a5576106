"""secp256k1 public keys in their SEC 1 forms only, as OpenSSL reads them."""

import coincurve
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import parse_public_key

SECRETS = st.integers(min_value=1, max_value=2**255).map(lambda n: n.to_bytes(32, "big"))


@given(SECRETS)
def test_every_sec1_form_gives_the_uncompressed_key(secret: bytes) -> None:
    public = coincurve.PrivateKey(secret).public_key
    full = public.format(compressed=False)
    for form in (full, full[1:], public.format(compressed=True)):
        assert parse_public_key(form) == full
    reference = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), full)
    assert full == reference.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@given(SECRETS)
def test_hybrid_form_is_refused(secret: bytes) -> None:
    """libsecp256k1 parses 0x06/0x07 + X + Y (the prefix carrying Y's parity); OpenSSL and
    the Ethereum tools do not, and a second spelling of a key is not accepted."""
    full = coincurve.PrivateKey(secret).public_key.format(compressed=False)
    hybrid = bytes([6 + (full[-1] & 1)]) + full[1:]
    coincurve.PublicKey(hybrid)  # the library beneath would take it
    with pytest.raises(ValueError):
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), hybrid)
    with pytest.raises(CryptoError):
        parse_public_key(hybrid)
