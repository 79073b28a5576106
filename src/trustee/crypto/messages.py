"""What web3 tools sign: EIP-191 personal messages and EIP-712 typed data."""

from typing import Any

from trustee.crypto.errors import CryptoError
from trustee.crypto.keccak import keccak256


def eip191_hash(message: bytes) -> bytes:
    """keccak256("\\x19Ethereum Signed Message:\\n" + len(message) + message), as personal_sign."""
    prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode("ascii")
    return keccak256(prefix + message)


def eip712_hash(typed_data: dict[str, Any]) -> bytes:
    """The EIP-712 digest of a full typed-data object (types, primaryType, domain, message).

    The struct encoding is eth-account's, the reference implementation, rather than ours.
    """
    from eth_account.messages import encode_typed_data

    if not isinstance(typed_data, dict):
        raise CryptoError("EIP-712 data must be an object with types, primaryType, domain, message")
    _check_typed_data(typed_data)
    try:
        signable = encode_typed_data(full_message=typed_data)
    except Exception as exc:  # eth-account raises many types for malformed input
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        detail = " ".join(detail.split())[:200]
        raise CryptoError(f"invalid EIP-712 typed data: {detail or type(exc).__name__}") from exc
    return keccak256(b"\x19" + signable.version + signable.header + signable.body)


def _check_typed_data(typed_data: dict[str, Any]) -> None:
    """Say which part of an EIP-712 object is missing, before eth-account meets it as a bare
    KeyError."""
    primary = typed_data.get("primaryType")
    required = ["types", "primaryType", "domain"] + (
        ["message"] if primary != "EIP712Domain" else []
    )
    missing = [key for key in required if key not in typed_data]
    if missing:
        raise CryptoError(f"EIP-712 typed data has no {', '.join(missing)}")
    types = typed_data["types"]
    if not isinstance(types, dict):
        raise CryptoError("EIP-712 types must be an object of type definitions")
    if not isinstance(primary, str) or primary not in types:
        raise CryptoError(f"EIP-712 primaryType {primary!r} is not defined in types")
