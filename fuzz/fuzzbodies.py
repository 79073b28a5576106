"""What every fuzz target checks, shared by the atheris harness and the hypothesis tests.

Each ``check_*`` function takes raw bytes (what a fuzzer produces), decodes them into a call of
one parser, and raises only when that parser misbehaves:

* it raised anything but its documented error type (a *crash*);
* its per-input cost went over :data:`BUDGET_SECONDS` of CPU time, twice in a row (a *hang*);
* it accepted what it must not: a token not validly signed by its ``iss``, a note without a
  valid signature by a known key, a keystore whose key another implementation reads differently.

The acceptance oracles are written against other code than the parser under test (OpenSSL via
``cryptography`` for ECDSA, ``eth_utils`` for addresses, ``eth_keyfile`` for keystores, stdlib
``json``/``base64`` for parsing), so a bug shared by parser and oracle is less likely.

Seeds (valid inputs of every accepted shape) are built here, deterministically, so that the
fuzzers start from the interesting side of each parser instead of bouncing off its first check.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import eth_keyfile
import eth_utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from trustee.crypto import keystore as keystore_module
from trustee.crypto.address import address_from_public_key, parse_address
from trustee.crypto.device import REASONS, DeviceKey, parse_device_key, verify_evidence
from trustee.crypto.errors import CryptoError
from trustee.crypto.keystore import decrypt_keystore, encrypt_keystore
from trustee.crypto.messages import eip191_hash
from trustee.crypto.secp256k1 import (
    es256k_sign,
    parse_public_key,
    public_key_from_private,
    recover_public_key,
    sign_recoverable,
)
from trustee.ledger.note import (
    NoteError,
    format_checkpoint,
    make_signer_key,
    make_verifier_key,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
)
from trustee.tokens import KeyCache, verify_token
from trustee.tokens.issue import issue_token
from trustee.tokens.issuers import address_of_issuer

BUDGET_SECONDS = 0.100
"""CPU time one input may take. Measured as process time, so a busy machine does not count."""

SEED_NOW = 1_800_000_000
"""Seed tokens are issued at this instant and verified shortly after it."""
AUDIENCE = "rental-agency"
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

KEYS = [hashlib.sha256(f"trustee-fuzz-{i}".encode()).digest() for i in range(3)]
ADDRESSES = [address_from_public_key(public_key_from_private(key)) for key in KEYS]
PASSPHRASE = "fuzz passphrase"
NOTE_NAME = "fuzz.example/log"
NOTE_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"trustee-fuzz-note").digest())
NOTE_VERIFIER = make_verifier_key(NOTE_NAME, NOTE_KEY.public_key())
NOTE_ORIGIN = "fuzz.example/log"

CHEAP_SCRYPT_WORK = 2**12
"""n·r·p up to which the keystore target runs the KDF. Costlier keystores (up to the parser's
ceiling of 2**23, a few seconds, which is the point of that ceiling) are checked for structure
only: their KDF time is chosen by the file, bounded by design, and not a parser hang."""
CHEAP_PBKDF2_ROUNDS = 2**12


class Misbehaviour(AssertionError):
    """A parser broke its contract on one input; the message says how."""


class Hang(Misbehaviour):
    """One input took more than the CPU budget, twice."""


# --- running one input -------------------------------------------------------------------


def run_bounded(check: Callable[[bytes], None], data: bytes) -> None:
    """Run ``check(data)``; a run over budget is repeated once before it counts as a hang.

    The repeat filters out a garbage-collection pause or a cold cache, which are not a property
    of the input; a real hang is slow both times.
    """
    for attempt in (1, 2):  # noqa: B007 (named in the message)
        started = time.process_time()
        check(data)
        spent = time.process_time() - started
        if spent <= BUDGET_SECONDS:
            return
    raise Hang(f"{check.__name__} spent {spent * 1000:.0f} ms of CPU on one input ({attempt}x)")


def _text(data: bytes) -> str:
    """Bytes as text the way a JSON body would bring them, lone surrogates and all."""
    return data.decode("utf-8", "surrogateescape")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- tokens ------------------------------------------------------------------------------


def _token_seeds() -> list[str]:
    tokens = []
    for index, key in enumerate(KEYS):
        plain = issue_token(key, now=SEED_NOW, claims={"usage": ["knight_rider"], "n": index})
        tokens.append(plain.jwt)
        tokens.append(issue_token(key, now=SEED_NOW, audience=[AUDIENCE, "other"]).jwt)
        tokens.append(issue_token(key, now=SEED_NOW, legacy_eth_claim=True).jwt)
        tokens.append(_legacy_token(key, index))
        tokens.append(_es256k_r_token(key, index))
    return tokens


def _legacy_token(key: bytes, index: int) -> str:
    """The original Vault plugin's shape: alg ES256, string exp/nbf, an ``eth`` claim."""
    address = ADDRESSES[index]
    jti = f"00000000-0000-4000-8000-00000000000{index}"
    eth = sign_recoverable(eip191_hash(jti.encode()), key)
    payload = {
        "iss": address.lower(),
        "jti": jti,
        "eth": "0x" + eth.hex(),
        "exp": str(SEED_NOW + 3600),
        "nbf": str(SEED_NOW),
    }
    return _sign_es256k({"alg": "ES256", "typ": "JWT"}, payload, key)


def _es256k_r_token(key: bytes, index: int) -> str:
    """did-jwt's shape: ES256K-R, 65-byte signature, did:ethr issuer."""
    issuer = f"did:ethr:0x{ADDRESSES[index][2:].lower()}"
    payload = {"iss": issuer, "iat": SEED_NOW, "aud": AUDIENCE}
    signing_input = _signing_input({"alg": "ES256K-R", "typ": "JWT"}, payload)
    signature = sign_recoverable(hashlib.sha256(signing_input.encode()).digest(), key)
    return signing_input + "." + _b64url(signature)


def _signing_input(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(payload).encode())


def _sign_es256k(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    signing_input = _signing_input(header, payload)
    return signing_input + "." + _b64url(es256k_sign(signing_input.encode(), key))


TOKEN_SEEDS = _token_seeds()


def check_token(data: bytes) -> None:
    """``verify_token`` never raises on a token, and is valid only for a signature by ``iss``.

    Layout: byte 0 picks the mode and the verifier's options, the rest is the token or, in the
    structured modes, a seed token's part replaced by fuzz bytes (so mutations reach the JSON
    and the signature instead of dying in base64url).
    """
    if not data:
        return
    mode, rest = data[0], data[1:]
    shape = mode & 3
    if shape == 0:
        token: str | bytes = rest
    elif shape == 1:
        token = _text(rest)
    elif shape == 2 and len(rest) >= 2:
        parts = TOKEN_SEEDS[rest[0] % len(TOKEN_SEEDS)].split(".")
        which = rest[1] % 3
        parts[which] = _b64url(rest[2:])
        token = ".".join(parts)
    elif shape == 3 and len(rest) >= 3:
        pick = [TOKEN_SEEDS[byte % len(TOKEN_SEEDS)].split(".") for byte in rest[:3]]
        token = ".".join([pick[0][0], pick[1][1], pick[2][2]]) + _text(rest[3:])
    else:
        token = rest
    audience = AUDIENCE if mode & 4 else None
    trusted = ADDRESSES[:2] if mode & 8 else None
    cache = KeyCache() if mode & 16 else None
    options: dict[str, Any] = {"key_cache": cache} if cache is not None else {}
    at = SEED_NOW + 10 if mode & 32 else SEED_NOW + 10 * 3600

    result = verify_token(token, trusted=trusted, audience=audience, at=at, **options)
    if not result.valid:
        if result.reason is None:
            raise Misbehaviour("an invalid verdict without a reason")
        if result.claims is not None and result.address is None:
            raise Misbehaviour("claims returned for a token whose signer is unknown")
        return
    text = token.decode("ascii") if isinstance(token, bytes) else token
    _check_accepted_token(text, result, audience, trusted, at)


def _check_accepted_token(
    token: str, result: Any, audience: str | None, trusted: list[str] | None, at: int
) -> None:
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(_b64url_decode(header_b64))
    payload = json.loads(_b64url_decode(payload_b64))
    signature = _b64url_decode(signature_b64)
    if result.claims != payload:
        raise Misbehaviour("the claims returned are not the signed payload")
    signers = _oracle_signers(header, payload, signature, f"{header_b64}.{payload_b64}")
    issuer = _oracle_issuer(payload.get("iss"))
    if issuer is None:
        raise Misbehaviour(f"accepted a token whose iss {payload.get('iss')!r} names no key")
    if not any(eth_utils.keccak(key[1:])[-20:] == issuer for key in signers):
        raise Misbehaviour("accepted a token not signed by its iss")
    if result.address != eth_utils.to_checksum_address(issuer):
        raise Misbehaviour("the address returned is not the issuer's")
    if audience is None and "aud" in payload:
        raise Misbehaviour("accepted a token with aud by a verifier that names none")
    if trusted is not None and result.address not in trusted:
        raise Misbehaviour("accepted an untrusted issuer")
    expires = payload.get("exp")
    if isinstance(expires, str) and expires.isdigit():
        expires = int(expires)
    if isinstance(expires, int | float) and not at < expires + 60:
        raise Misbehaviour("accepted an expired token")


def _oracle_issuer(iss: object) -> bytes | None:
    """The 20 address bytes ``iss`` names, read without the verifier's code."""
    if not isinstance(iss, str):
        return None
    body = iss.split("#")[0]
    if body.startswith("did:ethr:"):
        body = body.rsplit(":", 1)[-1]
    if not body.startswith("0x"):
        return None
    try:
        raw = bytes.fromhex(body[2:])
    except ValueError:
        return None
    if len(raw) == 20:
        return raw
    if len(raw) == 33:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), raw)
        full = point.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return eth_utils.keccak(full[1:])[-20:]
    return None


def _oracle_signers(
    header: dict[str, Any], payload: dict[str, Any], signature: bytes, signing_input: str
) -> list[bytes]:
    """The public keys for which OpenSSL finds the signature valid (a 64-byte ECDSA
    signature is valid for two keys, one per recovery id, or four when r < p − n; the token
    names which it means)."""
    message = signing_input.encode("ascii")
    if header.get("alg") == "ES256":
        eth = payload.get("eth", "")
        hint = bytes.fromhex(eth[2:])
        candidates = [recover_public_key(eip191_hash(payload["jti"].encode()), hint)]
    elif len(signature) == 65:
        candidates = [recover_public_key(hashlib.sha256(message).digest(), signature)]
    else:
        candidates = []
        low_s = _low_s(signature)
        for recovery_id in (0, 1, 2, 3):
            try:
                digest = hashlib.sha256(message).digest()
                candidates.append(recover_public_key(digest, low_s + bytes([recovery_id])))
            except CryptoError:
                continue
    return [key for key in candidates if _openssl_verifies(key, signature[:64], message)]


def _low_s(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:64], "big")
    if s > CURVE_ORDER // 2:
        s = CURVE_ORDER - s
    return signature[:32] + s.to_bytes(32, "big")


def _openssl_verifies(public_key: bytes, rs: bytes, message: bytes) -> bool:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), public_key)
    der = encode_dss_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big"))
    try:
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --- keystores ---------------------------------------------------------------------------


def _keystore_seeds() -> list[bytes]:
    passphrase = PASSPHRASE.encode()
    seeds = []
    for index, key in enumerate(KEYS):
        scrypt = encrypt_keystore(key, PASSPHRASE, scrypt_n=2**4, address=bool(index % 2))
        pbkdf2 = eth_keyfile.create_keyfile_json(key, passphrase, kdf="pbkdf2", iterations=16)
        for document in (scrypt, pbkdf2):
            seeds.append(bytes([len(passphrase)]) + passphrase + json.dumps(document).encode())
    return seeds


KEYSTORE_SEEDS = _keystore_seeds()


def check_keystore(data: bytes) -> None:
    """``decrypt_keystore`` raises only CryptoError, bounds its work before any KDF, and a key
    it returns is the one eth-keyfile reads from the same file.

    Layout: byte 0 is the passphrase length (low 7 bits) and whether to hand over a parsed
    object instead of the text (high bit); then the passphrase; then the keystore JSON.
    """
    if not data:
        return
    length = data[0] & 0x7F
    passphrase = _text(data[1 : 1 + length])
    document: Any = data[1 + length :]
    if data[0] & 0x80:
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            return
    try:
        # The structural checks, which must be cheap whatever the input.
        parsed = keystore_module._parse(document)
    except CryptoError:
        _expect_crypto_error(lambda: decrypt_keystore(document, passphrase))
        return
    if parsed.kdf == "scrypt":
        n, r, p = parsed.kdfparams
        if n * r * p > CHEAP_SCRYPT_WORK:
            return
    elif parsed.kdfparams[0] > CHEAP_PBKDF2_ROUNDS:
        return
    try:
        key = decrypt_keystore(document, passphrase)
    except CryptoError:
        return
    as_object = document if isinstance(document, dict) else json.loads(document)
    crypto = as_object.get("crypto", as_object.get("Crypto"))
    reference = eth_keyfile.decode_keyfile_json(
        {"version": 3, "crypto": crypto}, passphrase.encode("utf-8")
    )
    if reference != key:
        raise Misbehaviour("decrypt_keystore and eth-keyfile read different keys")


def _expect_crypto_error(call: Callable[[], object]) -> None:
    try:
        call()
    except CryptoError:
        return
    raise Misbehaviour("decrypt_keystore accepted what its parser refused")


# --- keys and addresses ------------------------------------------------------------------


def _compressed(private_key: bytes) -> bytes:
    return (
        ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    )


ADDRESS_SEEDS = [
    b"\x00" + ADDRESSES[0].encode(),
    b"\x00" + ADDRESSES[1].lower().encode(),
    b"\x01" + f"did:ethr:0x{ADDRESSES[2][2:]}".encode(),
    b"\x01" + f"did:ethr:mainnet:0x{ADDRESSES[0][2:].upper()}#controller".encode(),
    b"\x01" + b"did:ethr:0x" + _compressed(KEYS[1]).hex().encode(),
    b"\x02" + public_key_from_private(KEYS[0]),
    b"\x02" + _compressed(KEYS[1]),
]


def check_address(data: bytes) -> None:
    """Address and issuer parsers raise only CryptoError (ValueError for issuers) and agree
    with eth_utils on every address they accept.

    Layout: byte 0 picks the parser (``parse_address``, ``address_of_issuer``,
    ``parse_public_key``); the rest is its input.
    """
    if not data:
        return
    mode, rest = data[0] % 3, data[1:]
    if mode == 0:
        text = _text(rest)
        try:
            address = parse_address(text)
        except CryptoError:
            _check_refused_address(text)
            return
        if not eth_utils.is_checksum_address(address) or address.lower() != text.lower():
            raise Misbehaviour(f"parse_address({text!r}) gave {address!r}")
    elif mode == 1:
        text = _text(rest)
        try:
            address = address_of_issuer(text)
        except ValueError:  # CryptoError is a ValueError
            return
        if address is not None and not eth_utils.is_checksum_address(address):
            raise Misbehaviour(f"address_of_issuer({text!r}) gave {address!r}")
    else:
        try:
            point = parse_public_key(rest)
        except CryptoError:
            return
        reference = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256K1(), rest if len(rest) != 64 else b"\x04" + rest
        ).public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        if point != reference:
            raise Misbehaviour("parse_public_key and OpenSSL disagree on a point")
        address_from_public_key(point)


def _check_refused_address(text: str) -> None:
    """A refused address must be malformed, or mixed case with a wrong checksum."""
    if not (text[:2] in ("0x", "0X") and len(text) == 42):
        return
    body = text[2:]
    if not all(ch in "0123456789abcdefABCDEF" for ch in body):
        return
    if body in (body.lower(), body.upper()) or eth_utils.to_checksum_address(text) == "0x" + body:
        raise Misbehaviour(f"parse_address refused a valid address {text!r}")


# --- device keys -------------------------------------------------------------------------


def _device_key_seeds() -> list[bytes]:
    secp = ec.derive_private_key(int.from_bytes(KEYS[0], "big"), ec.SECP256K1())
    p256 = ec.derive_private_key(int.from_bytes(KEYS[1], "big"), ec.SECP256R1())
    ed = Ed25519PrivateKey.from_private_bytes(KEYS[2])
    pem = serialization.Encoding.PEM
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    seeds = []
    for alg_index, private in ((0, secp), (1, ed), (2, p256)):
        public = private.public_key()
        text_pem = public.public_bytes(pem, spki)
        seeds.append(bytes([alg_index]) + text_pem)
        if alg_index == 1:
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            raw = public.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
            )
        seeds.append(bytes([alg_index]) + raw.hex().encode())
        key = parse_device_key(("ES256K", "EdDSA", "ES256")[alg_index], raw.hex())
        seeds.append(bytes([alg_index | 4]) + json.dumps(key.jwk()).encode())
    seeds.append(b"\x00" + ADDRESSES[0].encode())
    return seeds


DEVICE_KEY_SEEDS = _device_key_seeds()
_DEVICE_ALGS = ("ES256K", "EdDSA", "ES256")


def check_device_key(data: bytes) -> None:
    """``parse_device_key`` raises only CryptoError; what it accepts is canonical (parsing it
    again gives the same key, its JWK parses back to it), and verifying with it never raises.

    Layout: byte 0 picks the algorithm (low 2 bits; 3 means an algorithm name taken from the
    data) and whether the rest is handed over as text or as a parsed JSON value (bit 2).
    """
    if not data:
        return
    mode, rest = data[0], data[1:]
    if mode & 3 == 3:
        alg: Any = _text(rest[:8])
        rest = rest[8:]
    else:
        alg = _DEVICE_ALGS[mode & 3]
    public_key: Any = _text(rest)
    if mode & 4:
        try:
            public_key = json.loads(rest)
        except (ValueError, RecursionError):
            return
    try:
        key = parse_device_key(alg, public_key)
    except CryptoError:
        return
    if parse_device_key(alg, key.public_key) != key or DeviceKey(alg, key.public_key) != key:
        raise Misbehaviour("a parsed device key is not canonical")
    if not key.is_address and parse_device_key(alg, key.jwk()) != key:
        raise Misbehaviour("a device key's JWK does not parse back to it")
    for signature in (rest[:64], rest[-65:], b"\x00" * 64):
        valid, reason = verify_evidence(key, "evidence", _b64url(signature))
        if valid or reason not in REASONS:
            raise Misbehaviour(f"verify_evidence answered {valid}, {reason!r} for junk")


# --- signed notes ------------------------------------------------------------------------


def _note_seeds() -> list[bytes]:
    checkpoint = format_checkpoint(NOTE_ORIGIN, 7, hashlib.sha256(b"root").digest(), ["ext"])
    note = sign_note(checkpoint, NOTE_NAME, NOTE_KEY)
    other = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"other").digest())
    cosigned = note + sign_note(checkpoint, "witness", other).split("\n\n", 1)[1]
    return [
        b"\x00" + note.encode(),
        b"\x00" + cosigned.encode(),
        b"\x01" + note.encode(),
        b"\x02" + NOTE_VERIFIER.encode(),
        b"\x03" + checkpoint.encode(),
        b"\x04" + make_signer_key("witness", other).encode(),
    ]


NOTE_SEEDS = _note_seeds()


def check_note(data: bytes) -> None:
    """Note, checkpoint and key parsers raise only NoteError, and a note opens only with a
    valid Ed25519 signature by the known key over exactly the text returned.

    Layout: byte 0 picks the parser (``open_note`` on bytes, ``open_checkpoint`` on text,
    ``parse_verifier_key``, ``parse_checkpoint``, ``parse_signer_key``); the rest is its input.
    """
    if not data:
        return
    mode, rest = data[0] % 5, data[1:]
    try:
        if mode == 0:
            text = open_note(rest, [NOTE_VERIFIER])
            _check_opened_note(rest.decode("utf-8"), text)
        elif mode == 1:
            checkpoint = open_checkpoint(_text(rest), [NOTE_VERIFIER], origin=NOTE_ORIGIN)
            if checkpoint.origin != NOTE_ORIGIN:
                raise Misbehaviour("open_checkpoint accepted another origin")
        elif mode == 2:
            key = parse_verifier_key(_text(rest))
            # Go's note package reads the key id case-insensitively; so do we.
            if parse_verifier_key(make_verifier_key(key.name, key.public_key)) != key:
                raise Misbehaviour("a verifier key does not round-trip")
        elif mode == 3:
            parsed = parse_checkpoint(_text(rest))
            again = format_checkpoint(
                parsed.origin, parsed.size, parsed.root_hash, parsed.extensions
            )
            if again != _text(rest):
                raise Misbehaviour("a checkpoint does not round-trip")
        else:
            parse_signer_key(_text(rest))
    except NoteError:
        return


def _check_opened_note(message: str, text: str) -> None:
    if not message.startswith(text + "\n"):
        raise Misbehaviour("open_note returned text that is not the note's body")
    public = NOTE_KEY.public_key()
    prefix = f"— {NOTE_NAME} "
    for line in message[len(text) + 1 :].splitlines():
        if not line.startswith(prefix):
            continue
        try:
            blob = base64.b64decode(line[len(prefix) :], validate=True)
            public.verify(blob[4:], text.encode("utf-8"))
        except (binascii.Error, InvalidSignature):
            continue
        return
    raise Misbehaviour("open_note accepted a note with no valid signature by the known key")


# --- the registry ------------------------------------------------------------------------

# -- SCITT statements ---------------------------------------------------------------------------

SCITT_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"trustee-fuzz-scitt").digest())


def _statement_seeds() -> list[bytes]:
    from trustee.scitt import CoseKey, sign_statement
    from trustee.scitt.keys import EDDSA, ES256K

    public = CoseKey.from_public_key(SCITT_KEY.public_key())
    seeds = [
        sign_statement(b'{"a": 1}', SCITT_KEY, EDDSA, issuer="urn:i", public_key=public),
        sign_statement(b"", SCITT_KEY, EDDSA, content_type="text/plain", public_key=public),
    ]
    seeds.append(sign_statement(b"x", KEYS[0], ES256K, kid=ADDRESSES[0].encode()))
    return seeds


STATEMENT_SEEDS = _statement_seeds()


def check_statement(data: bytes) -> None:
    """``verify_statement`` raises only StatementError; a statement it accepts has an entry
    that is deterministic CBOR and verifies alike; transparent-statement reading raises only
    ReceiptError."""
    from trustee.scitt import ReceiptError, StatementError, verify_statement
    from trustee.scitt import cbor as scitt_cbor
    from trustee.scitt.receipt import split_transparent_statement

    try:
        statement = verify_statement(data)
    except StatementError:
        pass
    else:
        entry = statement.entry
        if scitt_cbor.encode(scitt_cbor.decode(entry)) != entry:
            raise Misbehaviour("an entry is not in deterministic CBOR")
        again = verify_statement(entry)
        if again.key != statement.key or again.entry != entry:
            raise Misbehaviour("an entry does not verify as its statement did")
    with contextlib.suppress(ReceiptError):
        split_transparent_statement(data)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "token": check_token,
    "keystore": check_keystore,
    "address": check_address,
    "device_key": check_device_key,
    "note": check_note,
    "statement": check_statement,
}

SEEDS: dict[str, list[bytes]] = {
    "token": [bytes([mode]) + token.encode() for token in TOKEN_SEEDS for mode in (32, 45, 49)],
    "keystore": KEYSTORE_SEEDS,
    "address": ADDRESS_SEEDS,
    "device_key": DEVICE_KEY_SEEDS,
    "note": NOTE_SEEDS,
    "statement": STATEMENT_SEEDS,
}
