"""C2SP signed notes (c2sp.org/signed-note) and log checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint is the log's signed statement "my tree has N leaves and this root". Writing it as
a signed note, byte for byte as Go's golang.org/x/mod/sumdb/note does, means the Go tooling,
witnesses and monitors of the transparency-dev ecosystem can read and verify our log.

Format: the note text (UTF-8, no control characters but newline, ending in a newline), a blank
line, then one or more lines ``— <key name> <base64(4-byte key id ‖ signature)>``. Only
Ed25519 (signature type 0x01) is implemented; the key id is the first four bytes of
``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)``. Base64 is the standard alphabet with padding and,
here, strict: one encoding per value.

Verification follows the spec: signatures by unknown keys are ignored, every signature by a
known key must verify (one bad one rejects the note), and at least one must.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trustee.crypto.device import check_ed25519_public_key
from trustee.crypto.errors import CryptoError

__all__ = [
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "SIGNATURE_TYPE_ED25519",
    "Checkpoint",
    "NoteError",
    "VerifierKey",
    "format_checkpoint",
    "key_id",
    "make_signer_key",
    "make_verifier_key",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_note",
]

SIGNATURE_TYPE_ED25519 = 0x01
MAX_NOTE_SIZE = 1 << 20
"""Bytes. A checkpoint is ~150 bytes; the cap only stops a hostile peer from wasting memory."""
MAX_SIGNATURES = 100
"""As Go's note.Open; the spec asks verifiers to accept at least 16."""
MAX_TREE_SIZE = 2**64 - 1

_SIGNATURE_PREFIX = "— "  # em dash U+2014, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_KEY_ID_HEX = re.compile(r"^[0-9a-fA-F]{8}$")
_DECIMAL = re.compile(r"^(?:0|[1-9][0-9]{0,19})$")


class NoteError(ValueError):
    """A malformed, unverifiable or wrongly signed note, key or checkpoint."""


class VerifierKey(NamedTuple):
    """A parsed verifier key: who signs (``name``), ``key_id`` (4 bytes) and the Ed25519 key."""

    name: str
    key_id: bytes
    public_key: bytes


@dataclass(frozen=True)
class Checkpoint:
    """The body of a tlog checkpoint: origin, tree size, root hash and opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


# --- keys ----------------------------------------------------------------------------------


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 key: ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]``."""
    _check_name(name)
    data = name.encode("utf-8") + b"\n" + bytes([SIGNATURE_TYPE_ED25519]) + bytes(public_key)
    return hashlib.sha256(data).digest()[:4]


def make_verifier_key(name: str, public_key: bytes | Ed25519PublicKey) -> str:
    """``<name>+<hex key id>+<base64(0x01 ‖ public key)>``, the form operators hand out."""
    raw = _public_bytes(public_key)
    encoded = base64.b64encode(bytes([SIGNATURE_TYPE_ED25519]) + raw).decode("ascii")
    return f"{name}+{key_id(name, raw).hex()}+{encoded}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse and check a verifier key: name, id matching the key, Ed25519, a sound point."""
    name, id_hex, key = _split_key(text, "verifier key")
    if len(key) != 33 or key[0] != SIGNATURE_TYPE_ED25519:
        raise NoteError("verifier key must be an Ed25519 key (type 0x01, 32 bytes)")
    public = _sound_public_key(key[1:])
    expected = key_id(name, public)
    if bytes.fromhex(id_hex) != expected:
        raise NoteError("verifier key id does not match the key")
    return VerifierKey(name, expected, public)


def make_signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>``. A secret: treat it as one."""
    public = private_key.public_key().public_bytes_raw()
    seed = bytes([SIGNATURE_TYPE_ED25519]) + private_key.private_bytes_raw()
    encoded = base64.b64encode(seed).decode("ascii")
    return f"PRIVATE+KEY+{name}+{key_id(name, public).hex()}+{encoded}"


def parse_signer_key(text: str) -> tuple[str, bytes, Ed25519PrivateKey]:
    """``(name, key_id, private key)`` from a signer key, checking the id against the key."""
    if not isinstance(text, str) or not text.startswith("PRIVATE+KEY+"):
        raise NoteError("a signer key starts with PRIVATE+KEY+")
    name, id_hex, key = _split_key(text[len("PRIVATE+KEY+") :], "signer key")
    if len(key) != 33 or key[0] != SIGNATURE_TYPE_ED25519:
        raise NoteError("signer key must be an Ed25519 seed (type 0x01, 32 bytes)")
    private = Ed25519PrivateKey.from_private_bytes(key[1:])
    expected = key_id(name, private.public_key().public_bytes_raw())
    if bytes.fromhex(id_hex) != expected:
        raise NoteError("signer key id does not match the key")
    return name, expected, private


# --- notes ---------------------------------------------------------------------------------


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: ``text``, a blank line and one signature line by ``name``.

    Ed25519 is deterministic, so the same key and text always give the same note.
    """
    _check_text(text)
    _check_name(name)
    public = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(text.encode("utf-8"))
    blob = base64.b64encode(key_id(name, public) + signature).decode("ascii")
    return f"{text}\n{_SIGNATURE_PREFIX}{name} {blob}\n"


def open_note(signed_note: str | bytes, verifier_keys: Iterable[str | VerifierKey]) -> str:
    """Verify a signed note against known keys and return its text.

    Steps: 1. size, UTF-8 and character checks; 2. split at the last blank line; 3. parse every
    signature line (at most :data:`MAX_SIGNATURES`); 4. verify each signature whose (name, id)
    is known: one failure rejects the note; 5. require at least one verified signature.
    Any failure raises :class:`NoteError`.
    """
    known = _verifier_map(verifier_keys)
    # 1. Bounded, valid UTF-8, no control characters but newline.
    if isinstance(signed_note, bytes | bytearray):
        if len(signed_note) > MAX_NOTE_SIZE:
            raise NoteError(f"note is larger than {MAX_NOTE_SIZE} bytes")
        try:
            message = bytes(signed_note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("malformed note: not UTF-8") from exc
    elif isinstance(signed_note, str):
        message = signed_note
        if len(message) > MAX_NOTE_SIZE or len(_utf8(message, "note")) > MAX_NOTE_SIZE:
            raise NoteError(f"note is larger than {MAX_NOTE_SIZE} bytes")
    else:
        raise NoteError("a signed note is text")
    if _CONTROL.search(message):
        raise NoteError("malformed note: control character")
    # 2. Text, blank line, signature block ending in a newline.
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("malformed note: signatures must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    # 3-4. Parse each line; verify those from known keys.
    signed_bytes = text.encode("utf-8")
    verified = 0
    for line in lines:
        name, signer_id, signature = _parse_signature_line(line)
        public = known.get((name, signer_id))
        if public is None:
            continue  # unknown keys are ignored, as the spec requires
        try:
            public.verify(signature, signed_bytes)
        except InvalidSignature:
            raise NoteError(f"invalid signature for key {name}+{signer_id.hex()}") from None
        verified += 1
    # 5. At least one known key must have signed.
    if not verified:
        raise NoteError("note has no verifiable signatures")
    return text


# --- checkpoints ---------------------------------------------------------------------------


def format_checkpoint(
    origin: str, size: int, root_hash: bytes, extensions: Sequence[str] = ()
) -> str:
    """The checkpoint note text: origin, decimal size, base64 root, then extension lines."""
    if not isinstance(origin, str) or not origin or "\n" in origin or _CONTROL.search(origin):
        raise NoteError("checkpoint origin must be one non-empty line")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
        raise NoteError("checkpoint size is an integer from 0 to 2**64 - 1")
    if not isinstance(root_hash, bytes | bytearray) or len(root_hash) != 32:
        raise NoteError("checkpoint root hash must be 32 bytes")
    for line in extensions:
        if not isinstance(line, str) or not line or "\n" in line or _CONTROL.search(line):
            raise NoteError("checkpoint extension lines must be non-empty single lines")
    root = base64.b64encode(bytes(root_hash)).decode("ascii")
    return "".join(f"{line}\n" for line in (origin, str(size), root, *extensions))


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body strictly: three lines at least, canonical size and root."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("checkpoint must be text ending in a newline")
    if _CONTROL.search(text):
        raise NoteError("checkpoint contains a control character")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise NoteError("checkpoint origin is empty")
    if not _DECIMAL.match(size_line) or int(size_line) > MAX_TREE_SIZE:
        raise NoteError("checkpoint size must be decimal without leading zeros, below 2**64")
    root = _strict_b64decode(root_line, "checkpoint root hash")
    if len(root) != 32:
        raise NoteError(f"checkpoint root hash must be 32 bytes, got {len(root)}")
    if any(not line for line in extensions):
        raise NoteError("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


def open_checkpoint(
    signed_note: str | bytes,
    verifier_keys: Iterable[str | VerifierKey],
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint and parse it; with ``origin``, also require that log.

    Checking the origin matters: a valid checkpoint from another log signed by a shared key
    would otherwise pass.
    """
    checkpoint = parse_checkpoint(open_note(signed_note, verifier_keys))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint is for {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


# --- helpers -------------------------------------------------------------------------------


def _verifier_map(keys: Iterable[str | VerifierKey]) -> dict[tuple[str, bytes], Ed25519PublicKey]:
    if isinstance(keys, str | VerifierKey):
        keys = [keys]
    known: dict[tuple[str, bytes], bytes] = {}
    for item in keys:
        key = parse_verifier_key(item) if isinstance(item, str) else item
        if not isinstance(key, VerifierKey):
            raise NoteError("verifier keys are strings or VerifierKey")
        public = _public_bytes(key.public_key)
        slot = (key.name, bytes(key.key_id))
        if known.setdefault(slot, public) != public:
            raise NoteError(f"ambiguous key {key.name}+{key.key_id.hex()}")
    return {slot: Ed25519PublicKey.from_public_bytes(raw) for slot, raw in known.items()}


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise NoteError("malformed note: a signature line starts with an em dash and a space")
    name, _, blob = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not _valid_name(name) or not blob:
        raise NoteError("malformed note: signature line needs a key name and a signature")
    raw = _strict_b64decode(blob, "signature")
    if len(raw) < 5:
        raise NoteError("malformed note: signature too short")
    return name, raw[:4], raw[4:]


def _split_key(text: str, what: str) -> tuple[str, str, bytes]:
    if not isinstance(text, str) or len(text) > 4096 or _CONTROL.search(text):
        raise NoteError(f"malformed {what}")
    parts = text.split("+", 2)
    if len(parts) != 3 or not _valid_name(parts[0]) or not _KEY_ID_HEX.match(parts[1]):
        raise NoteError(f"malformed {what}: expected name+hexid+base64")
    return parts[0], parts[1], _strict_b64decode(parts[2], what)


def _sound_public_key(raw: bytes) -> bytes:
    try:
        return check_ed25519_public_key(raw)
    except CryptoError as exc:
        raise NoteError(f"verifier key is unusable: {exc}") from exc


def _public_bytes(public_key: bytes | Ed25519PublicKey) -> bytes:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes_raw()
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    return _sound_public_key(bytes(public_key))


def _strict_b64decode(text: str, what: str) -> bytes:
    if len(text) % 4 or not _BASE64.match(text):
        raise NoteError(f"{what} is not standard padded base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"{what} is not standard padded base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _valid_name(name: str) -> bool:
    """Non-empty, no Unicode space, no plus: the spec's key-name rule."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _valid_name(name) or _CONTROL.search(name):
        raise NoteError("a key name is non-empty, with no spaces and no '+'")
    _utf8(name, "key name")


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _CONTROL.search(text):
        raise NoteError("note text must not contain control characters other than newline")
    if len(_utf8(text, "note text")) > MAX_NOTE_SIZE:
        raise NoteError(f"note text is larger than {MAX_NOTE_SIZE} bytes")


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what} is not valid Unicode") from exc
