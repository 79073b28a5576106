"""V3 keystores: the Web3 Secret Storage vector, eth-account and eth-keyfile both ways, and
hostile files refused before any key derivation runs."""

import copy
import hashlib
import json
import uuid
from pathlib import Path

import pytest
from eth_account import Account
from eth_keyfile import create_keyfile_json, decode_keyfile_json
from hypothesis import given, settings
from hypothesis import strategies as st

from trustee.crypto import keystore as keystore_module
from trustee.crypto.address import address_from_public_key
from trustee.crypto.errors import CryptoError
from trustee.crypto.keccak import keccak256
from trustee.crypto.keystore import decrypt_keystore, encrypt_keystore
from trustee.crypto.secp256k1 import CURVE_ORDER, generate_private_key, public_key_from_private

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "secp256k1.json"
FAST_N = 2**12
WRONG = "^wrong passphrase or corrupted keystore$"


@pytest.fixture(scope="module")
def vector() -> dict:
    return json.loads(VECTORS.read_text())["keystore_v3_pbkdf2"]


@pytest.fixture(scope="module")
def key() -> bytes:
    return generate_private_key()


@pytest.fixture(scope="module")
def ours(key: bytes) -> dict:
    return encrypt_keystore(key, "correct horse", scrypt_n=FAST_N)


def _address(private_key: bytes) -> str:
    return address_from_public_key(public_key_from_private(private_key))


# --- Known answers and other implementations.


def test_web3_secret_storage_pbkdf2_vector(vector: dict) -> None:
    private_key = decrypt_keystore(vector["keystore"], vector["password"])
    assert private_key.hex() == vector["private_key"]
    assert _address(private_key) == vector["address"]
    # The JSON text and its bytes are accepted as well as the parsed object.
    text = json.dumps(vector["keystore"])
    assert decrypt_keystore(text, vector["password"]) == private_key
    assert decrypt_keystore(text.encode(), vector["password"]) == private_key


def test_our_keystore_opens_in_eth_account_and_eth_keyfile(key: bytes, ours: dict) -> None:
    assert bytes(Account.decrypt(ours, "correct horse")) == key
    assert decode_keyfile_json(ours, b"correct horse") == key
    assert decrypt_keystore(ours, "correct horse") == key


def test_default_cost_round_trip_with_eth_account(key: bytes) -> None:
    # The one slow test: geth's standard scrypt (n=2**18), about a second per derivation.
    made = encrypt_keystore(key, "pw")
    assert made["crypto"]["kdfparams"]["n"] == 2**18
    assert bytes(Account.decrypt(made, "pw")) == key


@pytest.mark.parametrize(
    ("kdf", "iterations"), [("scrypt", 2**12), ("pbkdf2", 1000), ("pbkdf2", 262144)]
)
def test_we_open_eth_account_keystores(key: bytes, kdf: str, iterations: int) -> None:
    made = Account.encrypt(key, "pässwörd 🔑", kdf=kdf, iterations=iterations)
    assert decrypt_keystore(made, "pässwörd 🔑") == key
    assert decrypt_keystore(json.dumps(made), "pässwörd 🔑") == key


def test_we_open_eth_keyfile_keystores_with_checksummed_address(key: bytes) -> None:
    made = create_keyfile_json(key, b"pw", kdf="scrypt", iterations=2**10)
    assert made["address"] != made["address"].lower()  # eth-keyfile writes EIP-55 case
    assert decrypt_keystore(made, "pw") == key


def test_unicode_passphrase_is_utf8(key: bytes) -> None:
    made = encrypt_keystore(key, "pässwörd 🔑", scrypt_n=2**4)
    assert bytes(Account.decrypt(made, "pässwörd 🔑")) == key
    with pytest.raises(CryptoError, match=WRONG):
        decrypt_keystore(made, "passwörd 🔑")


@settings(max_examples=25, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), passphrase=st.text(max_size=40))
def test_round_trip_property(key: bytes, passphrase: str) -> None:
    if not 0 < int.from_bytes(key, "big") < CURVE_ORDER:
        return
    made = encrypt_keystore(key, passphrase, scrypt_n=2**2)
    assert decrypt_keystore(made, passphrase) == key
    assert decode_keyfile_json(made, passphrase.encode()) == key


# --- What we write.


def test_shape_of_our_keystore(key: bytes, ours: dict) -> None:
    assert set(ours) == {"address", "crypto", "id", "version"}
    assert ours["version"] == 3
    assert ours["address"] == _address(key)[2:].lower()
    assert uuid.UUID(ours["id"]).version == 4
    crypto = ours["crypto"]
    assert crypto["cipher"] == "aes-128-ctr"
    assert crypto["kdf"] == "scrypt"
    params = crypto["kdfparams"]
    assert {k: params[k] for k in ("dklen", "n", "r", "p")} == {
        "dklen": 32,
        "n": FAST_N,
        "r": 8,
        "p": 1,
    }
    assert len(bytes.fromhex(params["salt"])) == 32
    assert len(bytes.fromhex(crypto["cipherparams"]["iv"])) == 16
    assert len(bytes.fromhex(crypto["ciphertext"])) == 32
    assert len(bytes.fromhex(crypto["mac"])) == 32
    json.dumps(ours)  # plain JSON types only


def test_salt_iv_and_id_are_fresh(key: bytes) -> None:
    made = [encrypt_keystore(key, "pw", scrypt_n=2**2) for _ in range(5)]
    for field in (
        lambda k: k["id"],
        lambda k: k["crypto"]["kdfparams"]["salt"],
        lambda k: k["crypto"]["cipherparams"]["iv"],
        lambda k: k["crypto"]["ciphertext"],
    ):
        assert len({field(k) for k in made}) == 5


def test_address_can_be_left_out(key: bytes) -> None:
    made = encrypt_keystore(key, "pw", scrypt_n=2**2, address=False)
    assert "address" not in made
    assert decrypt_keystore(made, "pw") == key


@pytest.mark.parametrize(
    ("private_key", "passphrase", "n"),
    [
        (b"\x00" * 32, "pw", 4),
        (CURVE_ORDER.to_bytes(32, "big"), "pw", 4),
        (b"\x01" * 31, "pw", 4),
        ("11" * 32, "pw", 4),
        (b"\x01" * 32, b"pw", 4),
        (b"\x01" * 32, "pw", 3),
        (b"\x01" * 32, "pw", 1),
        (b"\x01" * 32, "pw", 2**21),
    ],
)
def test_encrypt_rejects_bad_input(private_key, passphrase, n) -> None:
    with pytest.raises(CryptoError):
        encrypt_keystore(private_key, passphrase, scrypt_n=n)


# --- Wrong passphrase and tampering: the KDF runs, the MAC fails, one message.


def test_wrong_passphrase(ours: dict, vector: dict) -> None:
    with pytest.raises(CryptoError, match=WRONG):
        decrypt_keystore(ours, "incorrect horse")
    with pytest.raises(CryptoError, match=WRONG):
        decrypt_keystore(vector["keystore"], "")


def _flip_hex(text: str, index: int = 0) -> str:
    raw = bytearray.fromhex(text)
    raw[index] ^= 1
    return raw.hex()


@pytest.mark.parametrize(
    "path",
    [
        ("crypto", "mac"),
        ("crypto", "ciphertext"),
        ("crypto", "kdfparams", "salt"),
    ],
)
@pytest.mark.parametrize("index", [0, -1])
def test_tampering_fails_the_mac(ours: dict, path: tuple[str, ...], index: int) -> None:
    tampered = copy.deepcopy(ours)
    node = tampered
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] = _flip_hex(node[path[-1]], index)
    with pytest.raises(CryptoError, match=WRONG):
        decrypt_keystore(tampered, "correct horse")


def test_changed_kdf_parameters_fail_the_mac(ours: dict) -> None:
    tampered = copy.deepcopy(ours)
    tampered["crypto"]["kdfparams"]["n"] = FAST_N * 2
    with pytest.raises(CryptoError, match=WRONG):
        decrypt_keystore(tampered, "correct horse")


def test_address_of_another_key_is_refused(ours: dict) -> None:
    tampered = copy.deepcopy(ours)
    tampered["address"] = _address(generate_private_key())[2:]
    with pytest.raises(CryptoError, match="address does not match"):
        decrypt_keystore(tampered, "correct horse")


@pytest.mark.parametrize("bad_key", [bytes(32), CURVE_ORDER.to_bytes(32, "big"), b"\xff" * 32])
def test_authentic_keystore_with_an_invalid_key_is_refused(bad_key: bytes) -> None:
    # Built by hand with the spec's primitives, so the MAC is right and only the key is wrong.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    salt, iv = b"s" * 32, b"i" * 16
    derived = hashlib.scrypt(b"pw", salt=salt, n=4, r=8, p=1, dklen=32)
    encryptor = Cipher(algorithms.AES(derived[:16]), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(bad_key) + encryptor.finalize()
    made = {
        "version": 3,
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": iv.hex()},
            "ciphertext": ciphertext.hex(),
            "kdf": "scrypt",
            "kdfparams": {"dklen": 32, "n": 4, "r": 8, "p": 1, "salt": salt.hex()},
            "mac": keccak256(derived[16:] + ciphertext).hex(),
        },
    }
    with pytest.raises(CryptoError, match="invalid private key"):
        decrypt_keystore(made, "pw")


# --- Structurally invalid: refused before any KDF work.


def _set(path: str, value):
    """A mutation that sets (or, for value is _DELETE, removes) a dotted path."""

    def mutate(keystore: dict) -> dict:
        node = keystore
        *parents, last = path.split(".")
        for name in parents:
            node = node[name]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
        return keystore

    return mutate


_DELETE = object()
SCRYPT_MUTATIONS = {
    "version-4": _set("version", 4),
    "version-string": _set("version", "3"),
    "version-float": _set("version", 3.0),
    "version-bool": _set("version", True),
    "version-missing": _set("version", _DELETE),
    "crypto-missing": _set("crypto", _DELETE),
    "crypto-not-object": _set("crypto", "x"),
    "crypto-and-Crypto": lambda k: {**k, "Crypto": k["crypto"]},
    "cipher-cbc": _set("crypto.cipher", "aes-128-cbc"),
    "cipher-missing": _set("crypto.cipher", _DELETE),
    "cipherparams-missing": _set("crypto.cipherparams", _DELETE),
    "iv-short": _set("crypto.cipherparams.iv", "00" * 15),
    "iv-long": _set("crypto.cipherparams.iv", "00" * 17),
    "iv-bad-hex": _set("crypto.cipherparams.iv", "zz" * 16),
    "iv-odd-length": _set("crypto.cipherparams.iv", "0" * 31),
    "iv-int": _set("crypto.cipherparams.iv", 0),
    "ciphertext-short": _set("crypto.ciphertext", "00" * 31),
    "ciphertext-long": _set("crypto.ciphertext", "00" * 33),
    "ciphertext-bad-hex": _set("crypto.ciphertext", "g" * 64),
    "ciphertext-missing": _set("crypto.ciphertext", _DELETE),
    "ciphertext-list": _set("crypto.ciphertext", [1, 2]),
    "mac-short": _set("crypto.mac", "00" * 31),
    "mac-bad-hex": _set("crypto.mac", "0x" + "z" * 64),
    "mac-missing": _set("crypto.mac", _DELETE),
    "kdf-argon2": _set("crypto.kdf", "argon2id"),
    "kdf-missing": _set("crypto.kdf", _DELETE),
    "kdfparams-missing": _set("crypto.kdfparams", _DELETE),
    "kdfparams-list": _set("crypto.kdfparams", []),
    "dklen-16": _set("crypto.kdfparams.dklen", 16),
    "dklen-64": _set("crypto.kdfparams.dklen", 64),
    "dklen-string": _set("crypto.kdfparams.dklen", "32"),
    "dklen-missing": _set("crypto.kdfparams.dklen", _DELETE),
    "salt-empty": _set("crypto.kdfparams.salt", ""),
    "salt-too-long": _set("crypto.kdfparams.salt", "00" * 1025),
    "salt-bad-hex": _set("crypto.kdfparams.salt", "xy"),
    "salt-int": _set("crypto.kdfparams.salt", 5),
    "salt-missing": _set("crypto.kdfparams.salt", _DELETE),
    "n-2**21": _set("crypto.kdfparams.n", 2**21),
    "n-2**64": _set("crypto.kdfparams.n", 2**64),
    "n-not-power-of-two": _set("crypto.kdfparams.n", 3 * 2**10),
    "n-1": _set("crypto.kdfparams.n", 1),
    "n-0": _set("crypto.kdfparams.n", 0),
    "n-negative": _set("crypto.kdfparams.n", -4096),
    "n-string": _set("crypto.kdfparams.n", "4096"),
    "n-float": _set("crypto.kdfparams.n", 4096.0),
    "n-missing": _set("crypto.kdfparams.n", _DELETE),
    "r-0": _set("crypto.kdfparams.r", 0),
    "r-17": _set("crypto.kdfparams.r", 17),
    "r-missing": _set("crypto.kdfparams.r", _DELETE),
    "p-0": _set("crypto.kdfparams.p", 0),
    "p-17": _set("crypto.kdfparams.p", 17),
    "p-null": _set("crypto.kdfparams.p", None),
    "memory-2GiB": lambda k: _set("crypto.kdfparams.r", 16)(_set("crypto.kdfparams.n", 2**20)(k)),
    "work-2**24": lambda k: _set("crypto.kdfparams.p", 2)(_set("crypto.kdfparams.n", 2**20)(k)),
    "address-short": _set("address", "00" * 19),
    "address-bad-hex": _set("address", "zz" * 20),
    "address-int": _set("address", 5),
}
PBKDF2_MUTATIONS = {
    "prf-sha512": _set("crypto.kdfparams.prf", "hmac-sha512"),
    "prf-missing": _set("crypto.kdfparams.prf", _DELETE),
    "c-0": _set("crypto.kdfparams.c", 0),
    "c-above-limit": _set("crypto.kdfparams.c", 2**21 + 1),
    "c-10**9": _set("crypto.kdfparams.c", 10**9),
    "c-string": _set("crypto.kdfparams.c", "262144"),
    "c-missing": _set("crypto.kdfparams.c", _DELETE),
}


@pytest.fixture
def no_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("a KDF ran on a structurally invalid keystore")

    monkeypatch.setattr(keystore_module, "_derive", forbidden)
    monkeypatch.setattr(keystore_module, "_scrypt", forbidden)


@pytest.mark.usefixtures("no_kdf")
@pytest.mark.parametrize("name", sorted(SCRYPT_MUTATIONS))
def test_invalid_scrypt_keystores_fail_before_the_kdf(ours: dict, name: str) -> None:
    bad = SCRYPT_MUTATIONS[name](copy.deepcopy(ours))
    with pytest.raises(CryptoError):
        decrypt_keystore(bad, "correct horse")
    with pytest.raises(CryptoError):
        decrypt_keystore(json.dumps(bad), "correct horse")


@pytest.mark.usefixtures("no_kdf")
@pytest.mark.parametrize("name", sorted(PBKDF2_MUTATIONS))
def test_invalid_pbkdf2_keystores_fail_before_the_kdf(vector: dict, name: str) -> None:
    bad = PBKDF2_MUTATIONS[name](copy.deepcopy(vector["keystore"]))
    with pytest.raises(CryptoError):
        decrypt_keystore(bad, vector["password"])


@pytest.mark.usefixtures("no_kdf")
@pytest.mark.parametrize(
    "document",
    [
        pytest.param("not json", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param("[]", id="json-array"),
        pytest.param("3", id="json-number"),
        pytest.param("[" * 100_000, id="deep-nesting"),
        pytest.param(None, id="none"),
        pytest.param(["version", 3], id="list"),
        pytest.param(42, id="int"),
    ],
)
def test_malformed_documents(document) -> None:
    with pytest.raises(CryptoError):
        decrypt_keystore(document, "pw")


@pytest.mark.usefixtures("no_kdf")
def test_oversized_json_is_refused(ours: dict) -> None:
    padded = {**ours, "padding": "x" * (64 * 1024)}
    with pytest.raises(CryptoError, match="64 KiB"):
        decrypt_keystore(json.dumps(padded), "correct horse")


@pytest.mark.usefixtures("no_kdf")
def test_passphrase_must_be_text(ours: dict) -> None:
    with pytest.raises(CryptoError):
        decrypt_keystore(ours, b"correct horse")
    with pytest.raises(CryptoError, match="Unicode"):
        decrypt_keystore(ours, "lone surrogate \ud800")


class _KdfRan(Exception):
    pass


def test_hostile_cost_is_refused_before_hashlib_derives(
    ours: dict, vector: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module's own path, nothing of it stubbed: hashlib's scrypt and PBKDF2 are replaced
    by a recorder, so "refused, not attempted" is a count of calls rather than a timing."""
    calls: list[str] = []

    def recorder(name: str):
        def derive(*args, **kwargs):
            calls.append(name)
            raise _KdfRan(name)

        return derive

    monkeypatch.setattr(keystore_module.hashlib, "scrypt", recorder("scrypt"))
    monkeypatch.setattr(keystore_module.hashlib, "pbkdf2_hmac", recorder("pbkdf2_hmac"))
    # The recorder sits on the path a sound keystore takes, for both KDFs...
    with pytest.raises(_KdfRan):
        decrypt_keystore(ours, "correct horse")
    with pytest.raises(_KdfRan):
        decrypt_keystore(vector["keystore"], vector["password"])
    assert calls == ["scrypt", "pbkdf2_hmac"]
    # ...and a huge cost is refused before it is reached.
    hostile = copy.deepcopy(ours)
    hostile["crypto"]["kdfparams"].update(n=2**30, r=8, p=1)
    with pytest.raises(CryptoError, match="limit"):
        decrypt_keystore(hostile, "correct horse")
    hostile = copy.deepcopy(vector["keystore"])
    hostile["crypto"]["kdfparams"]["c"] = 10**9
    with pytest.raises(CryptoError, match="pbkdf2 c"):
        decrypt_keystore(hostile, vector["password"])
    assert calls == ["scrypt", "pbkdf2_hmac"]


def test_capitalised_crypto_key_is_accepted(key: bytes, ours: dict) -> None:
    legacy = {k: v for k, v in ours.items() if k != "crypto"}
    legacy["Crypto"] = ours["crypto"]
    assert decrypt_keystore(legacy, "correct horse") == key


def test_address_with_prefix_or_without_is_accepted(key: bytes, ours: dict) -> None:
    for address in (_address(key), _address(key)[2:].upper(), "0x" + ours["address"]):
        assert decrypt_keystore({**ours, "address": address}, "correct horse") == key
