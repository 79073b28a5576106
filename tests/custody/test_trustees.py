"""Trustees: life cycle, imports and exports, signatures checked against eth-account."""

import base64
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from trustee.crypto.keccak import keccak256
from trustee.crypto.keystore import encrypt_keystore
from trustee.custody import Barrier
from trustee.custody.trustees import (
    CorruptedKey,
    TrusteeService,
    decode_data,
    verify_signature,
)
from trustee.errors import AlreadyExists, InvalidRequest, NotFound, Sealed, TooLarge
from trustee.storage import open_database, schema
from trustee.tokens import TrustList, verify_token

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "secp256k1.json").read_text()
)
KEY_HEX = VECTORS["addresses"][3]["private_key"]
KEY_ADDRESS = VECTORS["addresses"][3]["address"]
SMALL_N = 2**10

TYPED_DATA = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    },
}


@pytest.fixture
def unsealed(storage_url):
    db = open_database(storage_url)
    barrier = Barrier(db)
    shares = barrier.initialize(3, 2)
    barrier.unseal(shares[0])
    barrier.unseal(shares[1])
    yield TrusteeService(db, barrier), barrier, db, shares
    db.close()


@pytest.fixture
def service(unsealed):
    return unsealed[0]


# -- life cycle ---------------------------------------------------------------------------


def test_create_read_list_delete(service):
    alice = service.create("alice", metadata={"team": "ops"})
    assert alice.address.startswith("0x") and len(alice.address) == 42
    assert alice.public_key.startswith("0x04") and len(alice.public_key) == 2 + 130
    assert alice.metadata == {"team": "ops"}
    assert service.read("alice") == alice
    service.create("bob")
    service.create("Carol.2")
    assert service.list_names() == ["Carol.2", "alice", "bob"]
    assert [info.name for info in service.list_all()] == ["Carol.2", "alice", "bob"]
    service.delete("bob")
    assert service.list_names() == ["Carol.2", "alice"]
    with pytest.raises(NotFound):
        service.read("bob")
    with pytest.raises(NotFound):
        service.delete("bob")


def test_create_twice_is_already_exists(service):
    service.create("alice")
    with pytest.raises(AlreadyExists) as caught:
        service.create("alice")
    assert "alice" in caught.value.message
    with pytest.raises(AlreadyExists):
        service.import_private_key("alice", KEY_HEX)


@pytest.mark.parametrize(
    "name", ["", "-lead", ".hidden", "a/b", "a b", "é", "x" * 129, "a\n", "a\0b", 5, None]
)
def test_invalid_names_are_refused(service, name):
    with pytest.raises(InvalidRequest):
        service.create(name)


def test_metadata_is_validated(service):
    with pytest.raises(InvalidRequest):
        service.create("alice", metadata=["not", "an", "object"])
    with pytest.raises(InvalidRequest):
        service.create("alice", metadata={"bad": object()})
    with pytest.raises(TooLarge):
        service.create("alice", metadata={"big": "x" * 70_000})
    assert service.list_names() == []


def test_sealed_service_refuses_key_operations(unsealed):
    service, barrier, _db, _shares = unsealed
    service.create("alice")
    barrier.seal()
    for call in (
        lambda: service.create("bob"),
        lambda: service.sign("alice", b"x"),
        lambda: service.claim("alice"),
        lambda: service.export_keystore("alice", "pw", scrypt_n=SMALL_N),
        lambda: service.import_private_key("carol", KEY_HEX),
        lambda: service.import_keystore("carol", {}, "pw"),
    ):
        with pytest.raises(Sealed):
            call()


# -- import and export --------------------------------------------------------------------


def test_import_private_key_hex(service):
    info = service.import_private_key("hardhat", "0x" + KEY_HEX)
    assert info.address == KEY_ADDRESS
    assert service.import_private_key("bare", KEY_HEX).address == KEY_ADDRESS
    assert service.names_for_address(KEY_ADDRESS) == ["bare", "hardhat"]


@pytest.mark.parametrize("bad", ["zz" * 32, "00" * 31, "00" * 32, "ff" * 32, "", 7])
def test_import_bad_private_key(service, bad):
    with pytest.raises(InvalidRequest) as caught:
        service.import_private_key("alice", bad)
    if isinstance(bad, str) and bad:
        assert bad not in str(caught.value)


def test_import_the_pbkdf2_vector_keystore(service):
    vector = VECTORS["keystore_v3_pbkdf2"]
    info = service.import_keystore("vector", vector["keystore"], vector["password"])
    assert info.address == vector["address"]


def test_import_keystore_as_json_text_and_wrong_passphrase(service):
    keystore = encrypt_keystore(bytes.fromhex(KEY_HEX), "right", scrypt_n=SMALL_N)
    info = service.import_keystore("text", json.dumps(keystore), "right")
    assert info.address == KEY_ADDRESS
    with pytest.raises(InvalidRequest, match="wrong passphrase") as caught:
        service.import_keystore("other", keystore, "wrong")
    assert "wrong" not in str(caught.value).replace("wrong passphrase", "")
    with pytest.raises(InvalidRequest):
        service.import_keystore("other", "not json", "right")
    with pytest.raises(InvalidRequest):
        service.import_keystore("other", 42, "right")
    with pytest.raises(AlreadyExists):
        service.import_keystore("text", keystore, "right")
    assert service.list_names() == ["text"]


def test_export_opens_with_eth_account(service):
    info = service.import_private_key("alice", KEY_HEX)
    keystore = service.export_keystore("alice", "s3cret", scrypt_n=SMALL_N)
    assert keystore["crypto"]["kdf"] == "scrypt"
    recovered = Account.decrypt(keystore, "s3cret")
    assert Account.from_key(recovered).address == info.address
    created = service.create("bob")
    assert (
        Account.from_key(
            Account.decrypt(service.export_keystore("bob", "pw", scrypt_n=SMALL_N), "pw")
        ).address
        == created.address
    )
    with pytest.raises(InvalidRequest):
        service.export_keystore("alice", "")
    with pytest.raises(InvalidRequest):
        service.export_keystore("alice", "pw", scrypt_n=3)
    with pytest.raises(NotFound):
        service.export_keystore("nobody", "pw", scrypt_n=SMALL_N)


# -- addresses ----------------------------------------------------------------------------


def test_address_lookups_are_case_insensitive(service):
    alice = service.import_private_key("alice", KEY_HEX)
    bob = service.create("bob")
    assert service.names_for_address(alice.address.lower()) == ["alice"]
    assert service.names_for_address("0x" + alice.address[2:].upper()) == ["alice"]
    assert service.names_for_address("0x" + "00" * 20) == []
    assert service.list_addresses() == sorted([alice.address, bob.address])
    found = service.read_address(alice.address.lower())
    assert (found.address, found.names, found.public_key) == (
        alice.address,
        ["alice"],
        alice.public_key,
    )
    with pytest.raises(NotFound):
        service.read_address("0x" + "00" * 20)
    with pytest.raises(InvalidRequest):
        service.names_for_address("not an address")
    wrong_checksum = alice.address[:-1] + (
        alice.address[-1].lower() if alice.address[-1].isupper() else alice.address[-1].upper()
    )
    if wrong_checksum[-1].isalpha():
        with pytest.raises(InvalidRequest):
            service.names_for_address(wrong_checksum)


# -- signatures ---------------------------------------------------------------------------


def test_eip191_matches_eth_account_byte_for_byte(service):
    service.import_private_key("alice", KEY_HEX)
    for text in ("hello", "", "ünïcode ✓", "x" * 1000):
        expected = Account.sign_message(encode_defunct(text=text), "0x" + KEY_HEX)
        result = service.sign("alice", text.encode(), "eip191")
        assert result.signature == "0x" + bytes(expected.signature).hex()
        assert result.hash == "0x" + bytes(expected.message_hash).hex()
        assert result.address == KEY_ADDRESS


def test_keccak256_matches_eth_account(service):
    service.import_private_key("alice", KEY_HEX)
    data = bytes(range(256))
    digest = keccak256(data)
    expected = Account.unsafe_sign_hash(digest, "0x" + KEY_HEX)
    result = service.sign("alice", data, "keccak256")
    assert result.signature == "0x" + bytes(expected.signature).hex()
    assert result.hash == "0x" + digest.hex()


def test_eip712_matches_eth_account(service):
    service.import_private_key("alice", KEY_HEX)
    expected = Account.sign_typed_data("0x" + KEY_HEX, full_message=TYPED_DATA)
    result = service.sign("alice", TYPED_DATA, "eip712")
    assert result.signature == "0x" + bytes(expected.signature).hex()
    assert result.hash == "0x" + bytes(expected.message_hash).hex()
    signable = encode_typed_data(full_message=TYPED_DATA)
    assert Account.recover_message(signable, signature=result.signature) == KEY_ADDRESS
    assert service.sign("alice", json.dumps(TYPED_DATA), "eip712") == result


def test_sign_input_errors(service):
    service.create("alice")
    with pytest.raises(InvalidRequest):
        service.sign("alice", b"x", "sha1")
    with pytest.raises(InvalidRequest):
        service.sign("alice", {"a": 1}, "eip191")
    with pytest.raises(InvalidRequest):
        service.sign("alice", {"not": "typed data"}, "eip712")
    with pytest.raises(InvalidRequest):
        service.sign("alice", b"not json", "eip712")
    with pytest.raises(NotFound):
        service.sign("nobody", b"x")


def test_verify_signature_accepts_every_v_form(service):
    service.import_private_key("alice", KEY_HEX)
    signature = bytes.fromhex(service.sign("alice", b"hello").signature[2:])
    for v in (signature[64], signature[64] - 27):
        candidate = "0x" + (signature[:64] + bytes((v,))).hex()
        result = verify_signature(KEY_ADDRESS.lower(), b"hello", "eip191", candidate)
        assert (result.verified, result.address, result.recovered) == (
            True,
            KEY_ADDRESS,
            KEY_ADDRESS,
        )
    # the other recovery id recovers some other address
    flipped_v = 55 - signature[64]  # 27 <-> 28
    flipped = verify_signature(
        KEY_ADDRESS, b"hello", "eip191", (signature[:64] + bytes((flipped_v,))).hex()
    )
    assert flipped.verified is False and flipped.recovered not in (None, KEY_ADDRESS)
    other_message = verify_signature(KEY_ADDRESS, b"hellO", "eip191", signature.hex())
    assert other_message.verified is False and other_message.recovered != KEY_ADDRESS
    assert service.verify("alice", b"hello", "eip191", signature.hex()).verified
    bob = service.create("bob")
    assert not service.verify("bob", b"hello", "eip191", signature.hex()).verified
    assert bob.address != KEY_ADDRESS


def test_verify_signature_malformed_input(service):
    signature = bytes(65)
    unrecoverable = verify_signature(KEY_ADDRESS, b"x", "eip191", signature.hex())
    assert (unrecoverable.verified, unrecoverable.recovered) == (False, None)
    bad_v = verify_signature(KEY_ADDRESS, b"x", "eip191", "11" * 64 + "05")
    assert (bad_v.verified, bad_v.recovered) == (False, None)
    for malformed in ("zz" * 65, "00" * 64, "00" * 66, "", 5):
        with pytest.raises(InvalidRequest):
            verify_signature(KEY_ADDRESS, b"x", "eip191", malformed)
    with pytest.raises(InvalidRequest):
        verify_signature("0x1234", b"x", "eip191", "00" * 65)


def test_verify_eip712_and_keccak256(service):
    service.import_private_key("alice", KEY_HEX)
    typed = service.sign("alice", TYPED_DATA, "eip712")
    assert verify_signature(KEY_ADDRESS, TYPED_DATA, "eip712", typed.signature).verified
    plain = service.sign("alice", b"raw", "keccak256")
    assert verify_signature(KEY_ADDRESS, b"raw", "keccak256", plain.signature).verified
    assert not verify_signature(KEY_ADDRESS, b"raw", "eip191", plain.signature).verified


# -- claims -------------------------------------------------------------------------------


def test_claim_issues_a_token_verifiable_from_the_address(service):
    alice = service.create("alice")
    issued = service.claim(
        "alice", claims={"role": "driver"}, audience="rental", ttl="1h", legacy_eth_claim=True
    )
    assert issued.claims["iss"] == alice.address
    assert issued.claims["exp"] - issued.claims["nbf"] == 3600
    assert issued.claims["role"] == "driver" and "eth" in issued.claims
    result = verify_token(issued.jwt, trusted=TrustList([alice.address]), audience="rental")
    assert result.valid and result.address == alice.address


def test_claim_errors_are_invalid_request(service):
    service.create("alice")
    with pytest.raises(InvalidRequest):
        service.claim("alice", claims={"iss": "someone else"})
    with pytest.raises(InvalidRequest):
        service.claim("alice", ttl="forever")
    with pytest.raises(InvalidRequest):
        service.claim("alice", ttl=0)
    with pytest.raises(InvalidRequest):
        service.claim("alice", claims=["not", "an", "object"])
    with pytest.raises(NotFound):
        service.claim("nobody")


# -- the barrier's binding ----------------------------------------------------------------


def test_swapped_rows_do_not_sign(unsealed):
    service, _barrier, db, _shares = unsealed
    alice = service.create("alice")
    service.create("bob")
    service.create("carol")
    table = schema.trustees
    with db.begin() as conn:
        alice_row = conn.execute(sa.select(table).where(table.c.name == "alice")).one()
        # bob gets alice's ciphertext only; carol gets alice's whole identity
        conn.execute(
            sa.update(table)
            .where(table.c.name == "bob")
            .values(sealed_private_key=alice_row.sealed_private_key)
        )
        conn.execute(
            sa.update(table)
            .where(table.c.name == "carol")
            .values(
                sealed_private_key=alice_row.sealed_private_key,
                address=alice_row.address,
                public_key=alice_row.public_key,
            )
        )
    for name in ("bob", "carol"):
        with pytest.raises(CorruptedKey, match="does not match its name and address") as caught:
            service.sign(name, b"pay me")
        assert not isinstance(caught.value, InvalidRequest)  # not the caller's fault: a 500
        with pytest.raises(CorruptedKey):
            service.claim(name)
        with pytest.raises(CorruptedKey):
            service.export_keystore(name, "pw", scrypt_n=SMALL_N)
    assert service.sign("alice", b"pay me").address == alice.address


def test_private_key_never_in_reprs_or_storage(unsealed):
    service, barrier, db, _shares = unsealed
    info = service.import_private_key("alice", KEY_HEX)
    objects = [
        info,
        service.read("alice"),
        service.read_address(KEY_ADDRESS),
        service.sign("alice", b"x"),
        verify_signature(KEY_ADDRESS, b"x", "eip191", service.sign("alice", b"x").signature),
        service.claim("alice"),
        service,
        barrier,
        db,
    ]
    for obj in objects:
        text = repr(obj) + str(obj)
        assert KEY_HEX not in text.lower()
    with db.connect() as conn:
        stored = conn.execute(sa.select(schema.trustees)).one()
    assert bytes.fromhex(KEY_HEX) not in bytes(stored.sealed_private_key)
    assert KEY_HEX not in json.dumps([str(value) for value in stored])
    with pytest.raises(InvalidRequest) as caught:
        service.import_private_key("bob", KEY_HEX[:-2])
    assert KEY_HEX[:-2] not in str(caught.value)


def test_restart_keeps_trustees(storage_url, unsealed):
    service, _barrier, db, shares = unsealed
    created = {name: service.create(name) for name in ("alice", "bob")}
    imported = service.import_private_key("hardhat", KEY_HEX)
    db.close()

    reopened = open_database(storage_url)
    barrier = Barrier(reopened)
    again = TrusteeService(reopened, barrier)
    assert again.list_names() == ["alice", "bob", "hardhat"]
    with pytest.raises(Sealed):
        again.sign("alice", b"x")
    barrier.unseal(shares[2])
    barrier.unseal(shares[0])
    for name, info in created.items():
        assert again.read(name) == info
        assert again.sign(name, b"after restart").address == info.address
    signed = again.sign("hardhat", b"after restart")
    assert signed.address == imported.address == KEY_ADDRESS
    reopened.close()


# -- data decoding ------------------------------------------------------------------------


def test_decode_data():
    assert decode_data("héllo") == "héllo".encode()
    assert decode_data("héllo", "utf8") == "héllo".encode()
    assert decode_data("0xdeadBEEF", "hex") == bytes.fromhex("deadbeef")
    assert decode_data("deadbeef", "hex") == bytes.fromhex("deadbeef")
    raw = bytes(range(250))
    assert decode_data(base64.b64encode(raw).decode(), "base64") == raw
    assert decode_data(base64.urlsafe_b64encode(raw).decode().rstrip("="), "base64") == raw
    assert decode_data("", "base64") == b""
    for data, encoding in [
        ("xyz", "hex"),
        ("abc", "hex"),
        ("not base64!", "base64"),
        ("a", "base64"),
        ("\ud800", "utf8"),
        ("x", "rot13"),
        (b"bytes", "utf8"),
    ]:
        with pytest.raises(InvalidRequest):
            decode_data(data, encoding)
    decode_data("a" * (1024 * 1024))
    with pytest.raises(TooLarge):
        decode_data("a" * (1024 * 1024 + 1))
    with pytest.raises(TooLarge):
        decode_data("00" * (1024 * 1024 + 1), "hex")
