"""Reading an issuer's Ethereum address out of ``iss`` or ``kid``.

Our tokens and the original Vault plugin's carry a bare address (EIP-55 or lower case);
did-jwt's carry ``did:ethr:[network:]0x<address>`` or the DID of a compressed public key, and
a ``kid`` may add a ``#fragment``. Everything else names no address.
"""

import re

from trustee.crypto.address import address_from_public_key, parse_address
from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import parse_public_key

_DID_ETHR = re.compile(r"^did:ethr:(?:[A-Za-z0-9_-]+:)?(0x[0-9a-fA-F]+)(?:#.*)?$")


_KNOWN: dict[str, str | None] = {}
_KNOWN_MAX = 65536


def address_of_issuer(value: object) -> str | None:
    """The EIP-55 address an ``iss``/``kid`` value names, or None when it names none.

    A mixed-case address with a wrong checksum raises CryptoError: it is a typo, not a
    different issuer. Answers are remembered (bounded): issuers repeat, checksums cost a keccak.
    """
    if not isinstance(value, str) or len(value) > 256:
        return None
    try:
        return _KNOWN[value]
    except KeyError:
        pass
    address = _address_of_issuer(value)
    if len(_KNOWN) >= _KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN[value] = address
    return address


def _address_of_issuer(value: str) -> str | None:
    if value.startswith(("0x", "0X")) and len(value) == 42:
        return parse_address(value)
    match = _DID_ETHR.match(value)
    if match is None:
        return None
    body = match.group(1)
    if len(body) == 42:
        return parse_address(body)
    if len(body) == 68:
        return address_from_public_key(parse_public_key(bytes.fromhex(body[2:])))
    raise CryptoError("did:ethr names neither an address nor a compressed public key")
