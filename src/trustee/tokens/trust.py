"""Pre-established trust: a set of addresses, validated once and looked up in O(1)."""

from collections.abc import Iterable, Iterator

from trustee.crypto.address import parse_address


class TrustList:
    """An immutable set of trusted addresses.

    Built once (each address checksum-validated) and reused, so a verifier with thousands of
    trusted issuers pays nothing per token for it.
    """

    __slots__ = ("_lower", "addresses")

    def __init__(self, addresses: Iterable[str]) -> None:
        if isinstance(addresses, str):
            raise TypeError("a trust list is a collection of addresses, not one string")
        checksummed = sorted({parse_address(address) for address in addresses})
        self.addresses: tuple[str, ...] = tuple(checksummed)
        self._lower = frozenset(address.lower() for address in checksummed)

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.lower() in self._lower

    def __len__(self) -> int:
        return len(self.addresses)

    def __iter__(self) -> Iterator[str]:
        return iter(self.addresses)

    def __repr__(self) -> str:
        return f"TrustList({list(self.addresses)!r})"
