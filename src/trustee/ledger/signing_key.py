"""The DataTrails way of naming a device key: the asset attribute ``arc_evidence_signing_pubkey``.

In RKVST's signed-records story a device's public key is a PEM in its asset's attributes, and
changing that attribute (through an event's ``asset_attributes``) changes the key. Here the
attribute feeds the one key history every face shows: at creation it is the asset's first key,
and an event that changes it rotates the key at that event's log index, so older events keep
the verdicts of their own time. The ledger reads it wherever it comes from (any face, or the
library), so an asset means the same thing to every client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustee.crypto.device import DeviceKey, parse_pem_device_key
from trustee.crypto.errors import CryptoError
from trustee.errors import InvalidRequest

__all__ = ["SIGNING_PUBKEY", "signing_key_of"]

SIGNING_PUBKEY = "arc_evidence_signing_pubkey"


def signing_key_of(attributes: Mapping[str, Any], what: str) -> DeviceKey | None:
    """The device key ``attributes`` name, None when they name none; a PEM that is no usable
    public key is refused (a key silently ignored would turn every signed event ``NO_KEY``)."""
    if SIGNING_PUBKEY not in attributes:
        return None
    try:
        return parse_pem_device_key(attributes[SIGNING_PUBKEY])
    except CryptoError as exc:
        raise InvalidRequest(f"{what}.{SIGNING_PUBKEY}: {exc}") from exc
