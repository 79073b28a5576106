"""Shamir sharing over GF(2^8), checked against a reference field written here with log/exp
tables (the product code uses a branch-free bit loop instead, so the two are independent)."""

import os
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustee.crypto import shamir
from trustee.crypto.errors import CryptoError
from trustee.crypto.shamir import combine, split

# --- Reference GF(2^8) with the AES polynomial 0x11B, from log/exp tables over generator 3.


def _xtime(a: int) -> int:
    a <<= 1
    return a ^ 0x11B if a & 0x100 else a


EXP = [0] * 510
LOG = [0] * 256
_value = 1
for _i in range(255):
    EXP[_i] = EXP[_i + 255] = _value
    LOG[_value] = _i
    _value ^= _xtime(_value)  # multiply by the generator 3 = x + 1
assert sorted(EXP[:255]) == list(range(1, 256))  # 3 really generates the group


def ref_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def ref_div(a: int, b: int) -> int:
    assert b != 0
    return 0 if a == 0 else EXP[LOG[a] - LOG[b] + 255]


def ref_interpolate(points: list[tuple[int, int]], at: int) -> int:
    """Lagrange: the value at ``at`` of the unique polynomial through ``points``."""
    total = 0
    for i, (x_i, y_i) in enumerate(points):
        weight = 1
        for j, (x_j, _) in enumerate(points):
            if i != j:
                weight = ref_mul(weight, ref_div(at ^ x_j, x_i ^ x_j))
        total ^= ref_mul(y_i, weight)
    return total


def ref_combine(shares: list[bytes]) -> bytes:
    return bytes(
        ref_interpolate([(share[-1], share[index]) for share in shares], 0)
        for index in range(len(shares[0]) - 1)
    )


# --- The field itself.


def test_multiplication_matches_the_reference_for_all_pairs() -> None:
    for a in range(256):
        for b in range(256):
            assert shamir._mul(a, b) == ref_mul(a, b), (a, b)


def test_inverse_of_every_non_zero_element() -> None:
    assert shamir._inverse(0) == 0
    for a in range(1, 256):
        inverse = shamir._inverse(a)
        assert shamir._mul(a, inverse) == 1
        assert inverse == ref_div(1, a)


def test_vault_field_vectors() -> None:
    # From hashicorp/vault shamir_test.go: mult(3, 7) = 9, div(6, 3) = 2, div(3, 3) = 1.
    assert shamir._mul(3, 7) == 9
    assert shamir._mul(3, 0) == shamir._mul(0, 3) == 0
    assert shamir._mul(6, shamir._inverse(3)) == 2
    assert shamir._mul(3, shamir._inverse(3)) == 1


# --- Splitting and combining.


@st.composite
def split_and_subset(draw, max_secret: int = 48):
    secret = draw(st.binary(min_size=1, max_size=max_secret))
    threshold = draw(st.integers(min_value=2, max_value=8))
    count = draw(st.integers(min_value=threshold, max_value=12))
    size = draw(st.integers(min_value=threshold, max_value=count))
    order = draw(st.permutations(range(count)))
    return secret, threshold, split(secret, count, threshold), order[:size]


@settings(max_examples=150, deadline=None)
@given(split_and_subset())
def test_any_threshold_subset_recovers_the_secret(case) -> None:
    secret, _, shares, subset = case
    chosen = [shares[i] for i in subset]
    assert combine(chosen) == secret
    assert ref_combine(chosen) == secret  # the format is Vault's, read independently


@settings(max_examples=50, deadline=None)
@given(
    secret=st.binary(min_size=1, max_size=64),
    threshold=st.integers(min_value=2, max_value=10),
    extra=st.integers(min_value=0, max_value=5),
)
def test_share_format(secret: bytes, threshold: int, extra: int) -> None:
    shares = split(secret, threshold + extra, threshold)
    assert len(shares) == threshold + extra
    assert all(len(share) == len(secret) + 1 for share in shares)
    xs = [share[-1] for share in shares]
    assert 0 not in xs
    assert len(set(xs)) == len(xs)


def test_maximum_share_count() -> None:
    secret = os.urandom(4)  # 255-of-255 costs len·255² multiplications: keep the secret short
    shares = split(secret, 255, 255)
    assert sorted(share[-1] for share in shares) == list(range(1, 256))
    assert combine(shares) == secret
    assert combine(split(secret, 255, 2)[200:202]) == secret


@settings(max_examples=50, deadline=None)
@given(threshold=st.integers(min_value=3, max_value=8), data=st.data())
def test_fewer_than_threshold_shares_give_something_else(threshold: int, data) -> None:
    secret = os.urandom(32)
    shares = split(secret, threshold + 2, threshold)
    subset = data.draw(st.permutations(shares))[: threshold - 1]
    assert combine(subset) != secret


@settings(max_examples=30, deadline=None)
@given(
    threshold=st.integers(min_value=2, max_value=6),
    extra=st.integers(min_value=0, max_value=3),
    secret=st.binary(min_size=1, max_size=1),
    data=st.data(),
)
def test_threshold_minus_one_shares_are_consistent_with_every_secret(
    threshold: int, extra: int, secret: bytes, data
) -> None:
    """Information-theoretic secrecy, checked outright on a one-byte secret.

    Hold ``threshold - 1`` shares. For every candidate byte s, the points (0, s) plus those
    shares fix exactly one polynomial of degree ``threshold - 1``; its value at an unused x is
    a share that completes the set and makes ``combine`` return s. So the shares held rule out
    no secret, and (one completion per s, all distinct) favour none.
    """
    shares = split(secret, threshold + extra, threshold)
    held = data.draw(st.permutations(shares))[: threshold - 1]
    points = [(share[-1], share[0]) for share in held]
    unused_x = data.draw(st.sampled_from(sorted(set(range(1, 256)) - {x for x, _ in points})))

    completions = set()
    for candidate in range(256):
        y = ref_interpolate([(0, candidate), *points], unused_x)
        completions.add(y)
        assert combine([*held, bytes((y, unused_x))]) == bytes((candidate,))
    assert len(completions) == 256


def test_coefficients_are_uniform_including_zero() -> None:
    # For 2-of-2, f(x) = s + a·x, so a = (y - s) / x. A leading coefficient forced non-zero
    # would never give a = 0 and would leak one excluded secret value per byte to a holder of
    # a single share. 8192 splits see every one of the 256 values (each expected 32 times).
    seen = set()
    for _ in range(8192):
        secret = secrets.randbits(8)
        share = split(bytes((secret,)), 2, 2)[0]
        seen.add(ref_div(share[0] ^ secret, share[1]))
    assert seen == set(range(256))


def test_x_coordinates_are_random() -> None:
    xs = {share[-1] for _ in range(40) for share in split(b"k", 2, 2)}
    assert len(xs) > 10


def test_one_of_one_is_the_secret_itself() -> None:
    secret = os.urandom(32)
    assert split(secret, 1, 1) == [secret]


# --- Bad input.


@pytest.mark.parametrize(
    ("shares", "threshold"),
    [(1, 2), (3, 4), (2, 1), (5, 1), (0, 0), (5, 0), (256, 2), (256, 256), (3, -1), (-1, -1)],
)
def test_split_rejects_bad_counts(shares: int, threshold: int) -> None:
    with pytest.raises(CryptoError):
        split(b"secret", shares, threshold)


@pytest.mark.parametrize(
    ("secret", "shares", "threshold"),
    [(b"", 3, 2), ("text", 3, 2), (None, 3, 2), (b"s", 3.0, 2), (b"s", 3, True), (b"s", "3", 2)],
)
def test_split_rejects_bad_types(secret, shares, threshold) -> None:
    with pytest.raises(CryptoError):
        split(secret, shares, threshold)


_SHARES = split(b"0123456789abcdef", 4, 2)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param([], id="no-shares"),
        pytest.param(_SHARES[:1], id="one-share"),
        pytest.param(_SHARES[0], id="not-a-list"),
        pytest.param([_SHARES[0], _SHARES[0]], id="duplicate"),
        pytest.param([_SHARES[0], _SHARES[1][:-1] + _SHARES[0][-1:]], id="same-x"),
        pytest.param([_SHARES[0], _SHARES[1][:-1] + b"\x00"], id="zero-x"),
        pytest.param([_SHARES[0], _SHARES[1][1:]], id="unequal-lengths"),
        pytest.param([b"\x01", b"\x02"], id="too-short"),
        pytest.param([_SHARES[0], _SHARES[1].hex()], id="not-bytes"),
    ],
)
def test_combine_rejects_bad_shares(bad) -> None:
    with pytest.raises(CryptoError):
        combine(bad)
