"""Shamir secret sharing of a byte string over GF(2^8), in HashiCorp Vault's share format.

Each byte of the secret is the constant term of its own random polynomial of degree
``threshold - 1``; a share holds that polynomial's value at one x for every byte, then x::

    share = y_1 ‖ y_2 ‖ … ‖ y_len(secret) ‖ x        (len(secret) + 1 bytes)

The field is GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B), as in Vault, so
shares written by either can be combined by the other. Two choices are deliberate:

* x coordinates are distinct, non-zero and drawn from the OS CSPRNG, so a share's x says
  nothing about how many shares exist; x = 0 would be the secret itself.
* Every coefficient above the constant is uniform, zero included. Forcing the leading one to
  be non-zero (as some Vault releases did) rules out one secret value per byte for anyone holding
  ``threshold - 1`` shares; uniform coefficients make every value equally consistent with
  them, which is the whole point of the scheme (the tests check exactly that).

Multiplication is Vault's branch-free shift-and-add loop rather than log/exp tables, so the
work done does not depend on secret bytes through table indices or early exits. Python
integers are not constant-time, so this reduces, not removes, the timing signal; the master
key is split once at initialisation and combined once per unseal, far from any hot path.

Vault special-cases one share of threshold one: the "share" is the key itself, with no x
byte. :func:`split` mirrors that; :func:`combine` still needs two shares, so a caller with a
1-of-1 configuration uses the single share directly.
"""

import os
import secrets

from trustee.crypto.errors import CryptoError

__all__ = ["MAX_SHARES", "combine", "split"]

MAX_SHARES = 255
"""x is one non-zero byte, so there are at most 255 distinct shares."""

_REDUCTION = 0x1B  # x^8 ≡ x^4 + x^3 + x + 1 (mod 0x11B)


def split(secret: bytes, shares: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``shares`` shares, any ``threshold`` of which recover it.

    Needs 2 <= threshold <= shares <= 255, or shares == threshold == 1, which returns
    ``[secret]`` unchanged as Vault does.
    """
    if not isinstance(secret, bytes | bytearray) or len(secret) == 0:
        raise CryptoError("the secret must be a non-empty byte string")
    if not _is_int(shares) or not _is_int(threshold):
        raise CryptoError("shares and threshold must be integers")
    if shares == threshold == 1:
        return [bytes(secret)]
    if not 2 <= threshold <= shares <= MAX_SHARES:
        raise CryptoError("need 2 <= threshold <= shares <= 255 (or one share of threshold one)")

    xs = secrets.SystemRandom().sample(range(1, 256), shares)
    ys = [bytearray(len(secret)) for _ in range(shares)]
    for index, byte in enumerate(secret):
        coefficients = bytes((byte,)) + os.urandom(threshold - 1)
        for share, x in zip(ys, xs, strict=True):
            share[index] = _evaluate(coefficients, x)
    return [bytes(share) + bytes((x,)) for share, x in zip(ys, xs, strict=True)]


def combine(shares: list[bytes]) -> bytes:
    """Recover the secret from ``threshold`` or more shares made by :func:`split`.

    With fewer than ``threshold`` shares the result is a wrong value, not an error: nothing
    in the shares says how many are needed. Callers that must know check the result (for the
    master key, by opening something sealed under it).
    """
    if not isinstance(shares, list | tuple) or len(shares) < 2:
        raise CryptoError("combining needs at least two shares")
    if not all(isinstance(share, bytes | bytearray) for share in shares):
        raise CryptoError("shares must be byte strings")
    length = len(shares[0])
    if length < 2:
        raise CryptoError("a share is at least two bytes")
    if any(len(share) != length for share in shares):
        raise CryptoError("all shares must be the same length")
    xs = [share[-1] for share in shares]
    if 0 in xs:
        raise CryptoError("a share has x coordinate zero")
    if len(set(xs)) != len(xs):
        raise CryptoError("the same share was given twice")

    # The Lagrange basis at 0 depends only on the xs, so compute it once, not once per byte:
    # basis_i = prod_{j != i} x_j / (x_i - x_j), and subtraction is XOR in GF(2^8).
    basis = []
    for i, x_i in enumerate(xs):
        numerator, denominator = 1, 1
        for j, x_j in enumerate(xs):
            if i != j:
                numerator = _mul(numerator, x_j)
                denominator = _mul(denominator, x_i ^ x_j)
        basis.append(_mul(numerator, _inverse(denominator)))

    secret = bytearray(length - 1)
    for index in range(length - 1):
        value = 0
        for share, weight in zip(shares, basis, strict=True):
            value ^= _mul(share[index], weight)
        secret[index] = value
    return bytes(secret)


def _evaluate(coefficients: bytes, x: int) -> int:
    """Horner's rule: c_0 + x(c_1 + x(c_2 + …)), the same number of steps for every input."""
    value = 0
    for coefficient in reversed(coefficients):
        value = _mul(value, x) ^ coefficient
    return value


def _mul(a: int, b: int) -> int:
    """Product in GF(2^8), Vault's ``mult``: eight rounds, no branches or secret indices.

    Each round doubles the accumulator (reducing by 0x1B when its top bit falls off) and adds
    ``a`` when the current bit of ``b`` is set, both selected with masks instead of ``if``.
    """
    r = 0
    for i in range(7, -1, -1):
        r = (-((b >> i) & 1) & a) ^ (-(r >> 7) & _REDUCTION) ^ ((r << 1) & 0xFF)
    return r


def _inverse(a: int) -> int:
    """a^254 = a^-1 (the multiplicative group has order 255); 0 maps to 0.

    The exponent is public, so square-and-multiply over its bits leaks nothing about ``a``.
    """
    result, power = 1, a
    for bit in range(8):
        if (254 >> bit) & 1:
            result = _mul(result, power)
        power = _mul(power, power)
    return result


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
