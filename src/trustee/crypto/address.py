"""Ethereum addresses: derivation from a public key and EIP-55 mixed-case checksums."""

import re

from trustee.crypto.errors import CryptoError
from trustee.crypto.keccak import keccak256

_ADDRESS = re.compile(r"^0[xX]([0-9a-fA-F]{40})$")


def address_from_public_key(public_key: bytes) -> str:
    """EIP-55 address of an uncompressed (65-byte, 0x04-prefixed) secp256k1 public key."""
    if len(public_key) != 65 or public_key[0] != 4:
        raise CryptoError("public key must be 65 bytes, uncompressed")
    return to_checksum_address(keccak256(public_key[1:])[-20:])


def to_checksum_address(raw: bytes) -> str:
    """EIP-55: upper-case each hex letter whose nibble in keccak(lower-hex) is >= 8."""
    if len(raw) != 20:
        raise CryptoError("an address is 20 bytes")
    lower = raw.hex()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        ch.upper() if ch.isalpha() and int(digest[i], 16) >= 8 else ch for i, ch in enumerate(lower)
    )


def parse_address(text: str) -> str:
    """Validate an address and return its EIP-55 form.

    All-lower and all-upper hex carry no checksum and are accepted; mixed case is a checksum
    and must be right, because a typo in a mixed-case address is exactly what EIP-55 catches.
    """
    match = _ADDRESS.match(text) if isinstance(text, str) else None
    if match is None:
        raise CryptoError("an address is 0x followed by 40 hex digits")
    body = match.group(1)
    checksummed = to_checksum_address(bytes.fromhex(body))
    if body not in (body.lower(), body.upper()) and body != checksummed[2:]:
        raise CryptoError("address has a wrong EIP-55 checksum")
    return checksummed


def is_address(text: str) -> bool:
    try:
        parse_address(text)
    except CryptoError:
        return False
    return True
