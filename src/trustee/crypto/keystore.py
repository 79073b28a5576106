"""Ethereum V3 keystores (Web3 Secret Storage): the JSON files geth, eth-account and wallets
write around a private key.

    derived = KDF(passphrase, salt)                 scrypt or PBKDF2-HMAC-SHA256, 32 bytes
    mac     = keccak256(derived[16:32] ‖ ciphertext)
    key     = AES-128-CTR(derived[0:16], iv).decrypt(ciphertext)

A keystore is untrusted input that names its own work factor, so a hostile one could ask for
terabytes of scrypt memory or a billion PBKDF2 rounds. :func:`decrypt_keystore` therefore
checks the whole structure, and bounds the cost, before it runs any KDF:

* JSON text at most 64 KiB; ``version`` is 3; cipher ``aes-128-ctr`` with a 16-byte iv;
  ciphertext exactly 32 bytes (one secp256k1 key); mac 32 bytes; ``dklen`` 32; salt 1 to
  1024 bytes; every hex field valid; an ``address``, when present, 20 bytes of hex.
* scrypt: n a power of two, 2 <= n <= 2**20; 1 <= r <= 16; 1 <= p <= 16; memory 128·n·r at
  most 1 GiB; work n·r·p at most 2**23. geth's standard (n=2**18, r=8, p=1: 256 MiB, work
  2**21, about 1.2 s here) and light (n=2**12, r=8, p=6) settings fit with room to spare;
  the ceiling is about four times geth's standard, a few seconds of one core.
* PBKDF2: prf ``hmac-sha256`` and 1 <= c <= 2**21 (geth writes 262144, eth-keyfile
  1000000; 2**21 takes about 0.7 s here).

A wrong passphrase and a failed MAC are the same event and raise the same message. Once the
MAC matches, the key must be a valid secp256k1 scalar and must match ``address`` if the file
names one, because the address is how an operator knows which key they imported.
"""

import hashlib
import hmac
import json
import os
import uuid
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from trustee.crypto.address import address_from_public_key
from trustee.crypto.encoding import hex_decode
from trustee.crypto.errors import CryptoError
from trustee.crypto.keccak import keccak256
from trustee.crypto.secp256k1 import check_private_key, public_key_from_private

__all__ = [
    "DEFAULT_SCRYPT_N",
    "MAX_KEYSTORE_BYTES",
    "MAX_PBKDF2_ITERATIONS",
    "MAX_SCRYPT_MEMORY",
    "MAX_SCRYPT_N",
    "MAX_SCRYPT_P",
    "MAX_SCRYPT_R",
    "MAX_SCRYPT_WORK",
    "decrypt_keystore",
    "encrypt_keystore",
]

MAX_KEYSTORE_BYTES = 64 * 1024
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 16
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY = 2**30
"""Bytes of scrypt's main buffer, 128·n·r."""
MAX_SCRYPT_WORK = 2**23
"""n·r·p, proportional to scrypt's running time."""
MAX_PBKDF2_ITERATIONS = 2**21
MAX_SALT_BYTES = 1024
DEFAULT_SCRYPT_N = 2**18
"""geth's "standard" scrypt cost."""

_DKLEN = 32
_WRONG_PASSPHRASE = "wrong passphrase or corrupted keystore"


def decrypt_keystore(keystore: dict[str, Any] | str | bytes, passphrase: str) -> bytes:
    """The 32-byte private key inside a V3 keystore (a parsed dict or its JSON text)."""
    secret = _passphrase_bytes(passphrase)
    parsed = _parse(keystore)
    derived = _derive(parsed, secret)

    mac = keccak256(derived[16:32] + parsed.ciphertext)
    if not hmac.compare_digest(mac, parsed.mac):
        raise CryptoError(_WRONG_PASSPHRASE)

    private_key = _aes_128_ctr(derived[:16], parsed.iv, parsed.ciphertext)
    try:
        check_private_key(private_key)
    except CryptoError:
        raise CryptoError("keystore holds an invalid private key") from None
    if parsed.address is not None:
        actual = bytes.fromhex(address_from_public_key(public_key_from_private(private_key))[2:])
        if actual != parsed.address:
            raise CryptoError("keystore address does not match its key")
    return private_key


def encrypt_keystore(
    private_key: bytes,
    passphrase: str,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
    address: bool = True,
) -> dict[str, Any]:
    """A V3 keystore as geth writes it: scrypt (n, r=8, p=1), random 32-byte salt and iv.

    ``address`` adds the lower-case hex address without ``0x`` (geth's habit), which tells
    wallets which key a file holds without the passphrase; leave it out to reveal nothing.
    """
    private_key = check_private_key(private_key)
    secret = _passphrase_bytes(passphrase)
    r, p = 8, 1
    _check_scrypt_cost(scrypt_n, r, p)

    salt = os.urandom(32)
    iv = os.urandom(16)
    derived = _scrypt(secret, salt, scrypt_n, r, p)
    ciphertext = _aes_128_ctr(derived[:16], iv, private_key)
    result: dict[str, Any] = {}
    if address:
        checksummed = address_from_public_key(public_key_from_private(private_key))
        result["address"] = checksummed[2:].lower()
    result.update(
        {
            "crypto": {
                "cipher": "aes-128-ctr",
                "ciphertext": ciphertext.hex(),
                "cipherparams": {"iv": iv.hex()},
                "kdf": "scrypt",
                "kdfparams": {"dklen": _DKLEN, "n": scrypt_n, "p": p, "r": r, "salt": salt.hex()},
                "mac": keccak256(derived[16:32] + ciphertext).hex(),
            },
            "id": str(uuid.uuid4()),
            "version": 3,
        }
    )
    return result


class _Keystore(NamedTuple):
    """The checked fields of a keystore; built only by :func:`_parse`."""

    kdf: str
    kdfparams: tuple[int, ...]
    salt: bytes
    iv: bytes
    ciphertext: bytes
    mac: bytes
    address: bytes | None


def _parse(keystore: dict[str, Any] | str | bytes) -> _Keystore:
    """Every structural check, in one place, with no KDF work."""
    if isinstance(keystore, str | bytes | bytearray):
        raw = keystore.encode("utf-8") if isinstance(keystore, str) else bytes(keystore)
        if len(raw) > MAX_KEYSTORE_BYTES:
            raise CryptoError("keystore is larger than 64 KiB")
        try:
            keystore = json.loads(raw)
        except (ValueError, RecursionError):
            raise CryptoError("keystore is not JSON") from None
    if not isinstance(keystore, dict):
        raise CryptoError("a keystore is a JSON object")
    if _int(keystore.get("version")) != 3:
        raise CryptoError("only version 3 keystores are supported")

    # MyEtherWallet and some older tools capitalise the key; accept either, never both.
    if "crypto" in keystore and "Crypto" in keystore:
        raise CryptoError("keystore has both crypto and Crypto")
    crypto = _object(keystore.get("crypto", keystore.get("Crypto")), "crypto")
    if crypto.get("cipher") != "aes-128-ctr":
        raise CryptoError("keystore cipher must be aes-128-ctr")
    cipherparams = _object(crypto.get("cipherparams"), "cipherparams")
    iv = _hex(cipherparams.get("iv"), "iv", 16)
    ciphertext = _hex(crypto.get("ciphertext"), "ciphertext", 32)
    mac = _hex(crypto.get("mac"), "mac", 32)

    kdf = crypto.get("kdf")
    params = _object(crypto.get("kdfparams"), "kdfparams")
    if _int(params.get("dklen")) != _DKLEN:
        raise CryptoError("keystore dklen must be 32")
    salt = _hex(params.get("salt"), "salt")
    if not 1 <= len(salt) <= MAX_SALT_BYTES:
        raise CryptoError(f"keystore salt must be 1 to {MAX_SALT_BYTES} bytes")

    if kdf == "scrypt":
        n, r, p = (_int(params.get(name)) for name in ("n", "r", "p"))
        if n is None or r is None or p is None:
            raise CryptoError("scrypt n, r and p must be integers")
        _check_scrypt_cost(n, r, p)
        kdfparams: tuple[int, ...] = (n, r, p)
    elif kdf == "pbkdf2":
        if params.get("prf") != "hmac-sha256":
            raise CryptoError("keystore pbkdf2 prf must be hmac-sha256")
        c = _int(params.get("c"))
        if c is None or not 1 <= c <= MAX_PBKDF2_ITERATIONS:
            raise CryptoError(f"pbkdf2 c must be an integer from 1 to {MAX_PBKDF2_ITERATIONS}")
        kdfparams = (c,)
    else:
        raise CryptoError("keystore kdf must be scrypt or pbkdf2")

    address = keystore.get("address")
    if address is not None:
        address = _hex(address, "address", 20)

    return _Keystore(
        address=address,
        ciphertext=ciphertext,
        iv=iv,
        kdf=kdf,
        kdfparams=kdfparams,
        mac=mac,
        salt=salt,
    )


def _check_scrypt_cost(n: int, r: int, p: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 2 or n & (n - 1):
        raise CryptoError("scrypt n must be a power of two")
    if n > MAX_SCRYPT_N:
        raise CryptoError(f"scrypt n is above the limit of {MAX_SCRYPT_N}")
    if not 1 <= r <= MAX_SCRYPT_R or not 1 <= p <= MAX_SCRYPT_P:
        raise CryptoError(f"scrypt r and p must be from 1 to {MAX_SCRYPT_R}")
    if 128 * n * r > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
        raise CryptoError("scrypt parameters exceed the memory or work limit")


def _derive(parsed: _Keystore, passphrase: bytes) -> bytes:
    if parsed.kdf == "scrypt":
        n, r, p = parsed.kdfparams
        return _scrypt(passphrase, parsed.salt, n, r, p)
    (c,) = parsed.kdfparams
    return hashlib.pbkdf2_hmac("sha256", passphrase, parsed.salt, c, _DKLEN)


def _scrypt(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # OpenSSL needs 128·r·(n + p) bytes plus bookkeeping; the explicit ceiling is a second
    # guard behind _check_scrypt_cost.
    maxmem = 128 * r * (n + p) + 2**20
    try:
        return hashlib.scrypt(passphrase, salt=salt, n=n, r=r, p=p, dklen=_DKLEN, maxmem=maxmem)
    except (ValueError, MemoryError):
        raise CryptoError("scrypt could not run with these parameters") from None


def _aes_128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    # CTR is its own inverse: the same call encrypts and decrypts.
    context = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return context.update(data) + context.finalize()


def _passphrase_bytes(passphrase: str) -> bytes:
    """UTF-8, unnormalised, as geth and eth-account encode it."""
    if not isinstance(passphrase, str):
        raise CryptoError("the passphrase must be a string")
    try:
        return passphrase.encode("utf-8")
    except UnicodeEncodeError:
        raise CryptoError("the passphrase is not valid Unicode") from None


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CryptoError(f"keystore {what} must be an object")
    return value


def _int(value: object) -> int | None:
    """A JSON integer; booleans and floats (1e3, 3.0) are not."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _hex(value: object, what: str, length: int | None = None) -> bytes:
    if not isinstance(value, str) or len(value) > 2 * MAX_KEYSTORE_BYTES:
        raise CryptoError(f"keystore {what} must be a hex string")
    return hex_decode(value, length=length, what=f"keystore {what}")
