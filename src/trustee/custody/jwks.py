"""The JWK set of every live trustee: what a JOSE client needs to verify their JWTs.

Built from the custody service's public records only, so any face can publish it.
"""

from typing import Any

from trustee.crypto.encoding import hex_decode
from trustee.crypto.jwk import secp256k1_jwk
from trustee.custody.trustees import TrusteeService

__all__ = ["jwk_set"]


def jwk_set(trustees: TrusteeService) -> dict[str, Any]:
    """Every live trustee's public key as a JWK, ``kid`` = its address, one per address.

    Two trustees may share a key (an import under two names); a verifier looks keys up by
    ``kid``, so each address appears once, and the set is sorted by it for stable caching.
    """
    keys: dict[str, dict[str, Any]] = {}
    for info in trustees.list_all():
        if info.address not in keys:
            keys[info.address] = secp256k1_jwk(hex_decode(info.public_key), kid=info.address)
    return {"keys": [keys[address] for address in sorted(keys)]}
