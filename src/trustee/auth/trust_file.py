"""Trust lists kept in files, for recipients that run without a server.

A recipient pins the addresses it trusts in a file it controls, in any of the forms
``trustee verify --trust-list`` reads:

- a JSON list of addresses;
- a JSON object ``{"addresses": [...]}``, which is what ``trustee/trust-lists/:name`` answers
  as its ``data`` — and the whole answer (``{"data": {"addresses": [...]}, ...}``) works too,
  so ``curl .../trustee/trust-lists/partners > partners.json`` makes a usable file;
- plain text, one address a line, ``#`` starting a comment.

Every address is checksum-validated once, when the file is read, so a typo fails at start-up
rather than quietly trusting no one.
"""

import json
from pathlib import Path

from trustee.crypto.errors import CryptoError
from trustee.tokens import TrustList

__all__ = ["TrustFileError", "load_trust_list", "parse_trust_list"]

MAX_FILE_BYTES = 4 * 1024 * 1024


class TrustFileError(ValueError):
    """The file cannot be used as a trust list; the message says why."""


def parse_trust_list(text: str) -> TrustList:
    """A :class:`TrustList` from the text of a trust-list file."""
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise TrustFileError(f"the trust list is not valid JSON ({exc.msg})") from None
        if isinstance(value, dict):
            data = value.get("data")
            inner = data.get("addresses") if isinstance(data, dict) else None
            value = value.get("addresses", inner)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TrustFileError(
                'trust list JSON must be a list of addresses or {"addresses": [...]}'
            )
        addresses = value
    else:
        addresses = [
            line.split("#", 1)[0].strip()
            for line in text.splitlines()
            if line.split("#", 1)[0].strip()
        ]
    try:
        return TrustList(addresses)
    except (CryptoError, ValueError) as exc:
        raise TrustFileError(f"bad address in the trust list: {exc}") from None


def load_trust_list(path: str | Path) -> TrustList:
    """Read and validate the trust-list file at ``path``."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise TrustFileError(f"cannot read the trust list {file}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise TrustFileError(f"the trust list {file} is over {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TrustFileError(f"the trust list {file} is not UTF-8 text") from None
    return parse_trust_list(text)
