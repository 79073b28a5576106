"""Properties: any single-bit change of a token is refused; issue → verify round trips."""

from hypothesis import given, settings
from hypothesis import strategies as st

from trustee.crypto.secp256k1 import generate_private_key
from trustee.tokens import KeyCache, issue_token, verify_token

KEY = generate_private_key()
TOKEN = issue_token(KEY, claims={"usage": ["knight_rider"]}, ttl=3600).jwt
CACHE = KeyCache()


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=len(TOKEN) * 8 - 1))
def test_any_single_bit_flip_is_refused(bit: int) -> None:
    raw = bytearray(TOKEN.encode("ascii"))
    raw[bit // 8] ^= 1 << (bit % 8)
    result = verify_token(bytes(raw), key_cache=CACHE)
    assert not result.valid


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    claims=st.dictionaries(
        st.text(min_size=1, max_size=12).filter(
            lambda k: k not in {"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "eth"}
        ),
        json_values,
        max_size=5,
    ),
    audience=st.none() | st.text(min_size=1, max_size=10),
)
def test_round_trip(claims: dict, audience: str | None) -> None:
    issued = issue_token(KEY, claims=claims, audience=audience)
    result = verify_token(issued.jwt, audience=audience)
    assert result.valid and result.claims == issued.claims
