"""Registered issuer keys and the production registration policy: admitted by key (each key
type, PEM or COSE_Key), ``iss`` bound, refused once deleted, the ACL on ``scitt/issuers``, bad
keys refused, and refusals that write nothing; registrations batched with event appends."""

from __future__ import annotations

import base64
import datetime
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cbor2
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from scittlib import COSE, root_client

from engines import open_dev_core
from ledgerlib import Device, evidence
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.ledger.note import open_checkpoint
from trustee.ledger.service import EventRequest
from trustee.scitt import (
    CoseKey,
    decode_sign1,
    entry_of,
    parse_key_set,
    sign_statement,
    verify_receipt,
)
from trustee.scitt.keys import EDDSA, ES256, ES256K, ES384
from trustee.scitt.registry import RegistrationPolicy
from trustee.storage.schema_scitt import scitt_statements

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ISSUERS = "/v1/scitt/issuers"
READ_ONLY = 'path "scitt/issuers/*" { capabilities = ["read", "list"] }'


@dataclass
class Issuer:
    """A fresh signing key of one kind, its public half, and how it is given to the service."""

    kind: str
    private: Any
    alg: int
    public: CoseKey

    def sign(self, *, iss: str = "urn:example:issuer", by_kid: bool = False) -> bytes:
        payload = b'{"reading": 1}'
        options: dict[str, Any] = {"issuer": iss, "content_type": "application/json"}
        if by_kid:  # ES256K named by address, the key recovered from the signature
            address = self.public.address()
            assert address is not None
            return sign_statement(payload, self.private, self.alg, kid=address.encode(), **options)
        return sign_statement(payload, self.private, self.alg, public_key=self.public, **options)

    def pem(self) -> str:
        if self.alg == ES256K:
            key = ec.derive_private_key(int.from_bytes(self.private, "big"), ec.SECP256K1())
            public = key.public_key()
        else:
            public = self.private.public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def cose_key(self) -> str:
        return base64.b64encode(cbor2.dumps(self.public.to_map(alg=self.alg))).decode()


def issuer(kind: str) -> Issuer:
    if kind == "EdDSA":
        private: Any = ed25519.Ed25519PrivateKey.generate()
        return Issuer(kind, private, EDDSA, CoseKey.from_public_key(private.public_key()))
    if kind in ("ES256", "ES384"):
        private = ec.generate_private_key(ec.SECP256R1() if kind == "ES256" else ec.SECP384R1())
        alg = ES256 if kind == "ES256" else ES384
        return Issuer(kind, private, alg, CoseKey.from_public_key(private.public_key()))
    private = generate_private_key()
    return Issuer(kind, private, ES256K, CoseKey.from_secp256k1(public_key_from_private(private)))


def certificate_pem(key: ec.EllipticCurvePrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ready(module_storage_url: str):
    ready = open_dev_core(module_storage_url)
    ready.core.scitt.policy = RegistrationPolicy(registered_keys=True)
    yield ready
    ready.core.close()


@pytest.fixture(scope="module")
def client(ready) -> Iterator[TestClient]:
    with root_client(ready) as test_client:
        yield test_client


def written(client: TestClient, ready) -> tuple[int, int]:
    """The log's size and the number of statement rows: what a refusal must leave alone."""
    size = client.get("/v1/ledger/log/checkpoint").json()["data"]["size"]
    with ready.core.db.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(scitt_statements)).scalar()
    return size, rows


def refused(client: TestClient, ready, data: bytes) -> str:
    before = written(client, ready)
    response = client.post("/entries", content=data, headers=COSE)
    assert response.status_code == 400, response.content
    detail = cbor2.loads(response.content)[-2]
    assert detail.startswith("untrusted_issuer"), detail
    assert written(client, ready) == before
    return detail


def admitted(client: TestClient, data: bytes) -> str:
    response = client.post("/entries", content=data, headers=COSE)
    assert response.status_code == 303, cbor2.loads(response.content)
    return response.headers["location"]


def put(client: TestClient, name: str, body: dict[str, Any], token: str | None = None):
    headers = {} if token is None else {"X-Vault-Token": token}
    return client.put(f"{ISSUERS}/{name}", json=body, headers=headers)


@pytest.mark.parametrize(
    ("kind", "form", "by_kid"),
    [
        ("EdDSA", "pem", False),
        ("EdDSA", "cose", False),
        ("ES256", "pem", False),
        ("ES256", "certificate", False),
        ("ES384", "cose", False),
        ("ES256K", "pem", False),
        ("ES256K", "cose", True),
    ],
)
def test_a_registered_key_is_admitted_and_others_refused(
    client: TestClient, ready, kind: str, form: str, by_kid: bool
) -> None:
    signer = issuer(kind)
    statement = signer.sign(by_kid=by_kid)
    detail = refused(client, ready, statement)
    assert "registered issuer key" in detail
    if form == "pem":
        public_key = signer.pem()
    elif form == "certificate":
        public_key = certificate_pem(signer.private)
    else:
        public_key = signer.cose_key()
    name = f"{kind}-{form}"
    response = put(client, name, {"public_key": public_key})
    assert response.status_code == 200, response.text
    stored = response.json()["data"]
    assert stored["thumbprint"] == signer.public.thumbprint().hex()
    assert stored["alg"] == {"EdDSA": "EdDSA"}.get(kind, kind)
    location = admitted(client, statement)
    # The receipt verifies as any other.
    receipt = client.get(location).content
    keys = parse_key_set(client.get("/.well-known/scitt-keys").content)
    assert verify_receipt(receipt, entry_of(decode_sign1(statement)), keys).leaf_index >= 0
    # Another key of the same kind is still refused.
    refused(client, ready, issuer(kind).sign(by_kid=by_kid))
    assert client.delete(f"{ISSUERS}/{name}").status_code == 204


def test_iss_must_match_when_the_registration_sets_one(client: TestClient, ready) -> None:
    signer = issuer("ES256")
    assert put(client, "bound", {"public_key": signer.pem(), "iss": "urn:a"}).status_code == 200
    detail = refused(client, ready, signer.sign(iss="urn:b"))
    assert "'urn:a'" in detail and "'urn:b'" in detail
    admitted(client, signer.sign(iss="urn:a"))
    # The same key registered again under another name without iss admits any iss.
    assert put(client, "unbound", {"public_key": signer.pem()}).status_code == 200
    admitted(client, signer.sign(iss="urn:b"))
    for name in ("bound", "unbound"):
        client.delete(f"{ISSUERS}/{name}")


def test_a_deleted_key_is_refused(client: TestClient, ready) -> None:
    signer = issuer("EdDSA")
    assert put(client, "gone", {"public_key": signer.pem()}).status_code == 200
    admitted(client, signer.sign())
    assert client.delete(f"{ISSUERS}/gone").status_code == 204
    assert client.get(f"{ISSUERS}/gone").status_code == 404
    refused(client, ready, signer.sign())


def test_read_list_and_replace(client: TestClient) -> None:
    first, second = issuer("EdDSA"), issuer("ES384")
    assert put(client, "rotating", {"public_key": first.pem()}).status_code == 200
    assert put(client, "rotating", {"public_key": second.cose_key()}).status_code == 200
    read = client.get(f"{ISSUERS}/rotating").json()["data"]
    assert read["thumbprint"] == second.public.thumbprint().hex()
    assert CoseKey.from_map(cbor2.loads(base64.b64decode(read["cose_key"]))) == second.public
    assert "rotating" in client.request("LIST", ISSUERS).json()["data"]["keys"]
    assert "rotating" in client.get(ISSUERS, params={"list": "true"}).json()["data"]["keys"]
    client.delete(f"{ISSUERS}/rotating")
    assert "rotating" not in client.get(ISSUERS).json()["data"]["keys"]


def test_trust_list_and_registered_keys_together(client: TestClient, ready) -> None:
    listed, keyed = issuer("ES256K"), issuer("EdDSA")
    address = listed.public.address()
    ready.core.trust_lists.put("scitt-both", [address])
    ready.core.scitt.policy = RegistrationPolicy(trust_list="scitt-both", registered_keys=True)
    try:
        admitted(client, listed.sign(by_kid=True))
        refused(client, ready, keyed.sign())
        assert put(client, "keyed", {"public_key": keyed.pem()}).status_code == 200
        admitted(client, keyed.sign())
        refused(client, ready, issuer("ES256K").sign(by_kid=True))
    finally:
        ready.core.scitt.policy = RegistrationPolicy(registered_keys=True)
        client.delete(f"{ISSUERS}/keyed")


def test_the_acl_guards_issuer_keys(client: TestClient) -> None:
    assert client.put("/v1/sys/policies/acl/issuers-ro", json={"policy": READ_ONLY}).is_success
    token = client.post("/v1/auth/token/create", json={"policies": ["issuers-ro"]}).json()
    reader = token["auth"]["client_token"]
    signer = issuer("EdDSA")
    assert put(client, "guarded", {"public_key": signer.pem()}, reader).status_code == 403
    assert client.get(f"{ISSUERS}/guarded", headers={"X-Vault-Token": reader}).status_code == 404
    assert put(client, "guarded", {"public_key": signer.pem()}).status_code == 200
    headers = {"X-Vault-Token": reader}
    assert client.get(f"{ISSUERS}/guarded", headers=headers).status_code == 200
    assert client.delete(f"{ISSUERS}/guarded", headers=headers).status_code == 403
    assert client.get(f"{ISSUERS}/guarded").status_code == 200  # still there
    assert client.get(f"{ISSUERS}/guarded", headers={"X-Vault-Token": "nope"}).status_code == 403
    client.delete(f"{ISSUERS}/guarded")


P521_PEM = (
    ec.generate_private_key(ec.SECP521R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
OFF_CURVE = base64.b64encode(
    cbor2.dumps({1: 2, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32})
).decode()
WRONG_ALG = base64.b64encode(cbor2.dumps({**issuer("EdDSA").public.to_map(), 3: ES256})).decode()

BAD_BODIES = {
    "garbage": {"public_key": "not a key at all!"},
    "bad PEM": {"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
    "P-521": {"public_key": P521_PEM},
    "off the curve": {"public_key": OFF_CURVE},
    "alg of another curve": {"public_key": WRONG_ALG},
    "not a map": {"public_key": base64.b64encode(cbor2.dumps([1, 2])).decode()},
    "too long": {"public_key": "A" * 20_000},
    "not a string": {"public_key": 7},
    "empty iss": {"public_key": issuer("EdDSA").pem(), "iss": ""},
    "unknown field": {"public_key": issuer("EdDSA").pem(), "issuer": "urn:a"},
    "missing key": {"iss": "urn:a"},
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_keys_are_4xx_and_store_nothing(client: TestClient, case: str) -> None:
    response = put(client, "bad", BAD_BODIES[case])
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code != 404
    assert "Traceback" not in response.text
    assert client.get(f"{ISSUERS}/bad").status_code == 404


def test_bad_names_are_400(client: TestClient) -> None:
    response = put(client, ".hidden", {"public_key": issuer("EdDSA").pem()})
    assert response.status_code == 400


def test_registrations_and_events_share_the_committer(client: TestClient, ready) -> None:
    """Concurrent registrations and events: one tree, distinct indexes, receipts at sizes
    whose checkpoint roots they prove, every item through the ledger's group committer."""
    core = ready.core
    signer = issuer("EdDSA")
    assert put(client, "busy", {"public_key": signer.pem()}).status_code == 200
    device = Device("EdDSA")
    asset = client.post("/v1/ledger/assets", json={"device_key": device.device_key}).json()
    asset_uuid = asset["data"]["uuid"]
    committer = core.ledger.committer
    items_before = committer.items
    statements = [signer.sign(iss=f"urn:{i}") for i in range(12)]
    registered: list[Any] = []
    events: list[Any] = []

    def register(data: bytes) -> None:
        registered.append((data, core.scitt.register(data)))

    def post(step: int) -> None:
        request = EventRequest(
            asset_uuid=asset_uuid, event_attributes=evidence(device, f'{{"step": {step}}}')
        )
        events.append(core.ledger.post_event(request))

    threads = [threading.Thread(target=register, args=(data,)) for data in statements]
    threads += [threading.Thread(target=post, args=(step,)) for step in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(registered) == len(events) == 12
    assert committer.items - items_before == 24
    indexes = [r.log_index for _, r in registered] + [int(e.log_index) for e in events]
    assert len(set(indexes)) == 24
    keys = parse_key_set(client.get("/.well-known/scitt-keys").content)
    log_key = client.get("/v1/ledger/log/public-key").json()["data"]["key"]
    made_at_registration = {}
    for data, registration in registered:
        assert registration.log_index < registration.tree_size
        checked = verify_receipt(
            core.scitt.receipt(registration.entry_id), entry_of(decode_sign1(data)), keys
        )
        assert (checked.leaf_index, checked.tree_size) == (
            registration.log_index,
            registration.tree_size,
        )
        made_at_registration[registration.entry_id] = checked
    # Receipts made from the database (another process, a restart) prove the same.
    core.scitt._receipts.clear()
    for data, registration in registered:
        receipt = client.get(f"/entries/{registration.entry_id}").content
        checked = verify_receipt(receipt, entry_of(decode_sign1(data)), keys)
        earlier = made_at_registration[registration.entry_id]
        assert (checked.leaf_index, checked.tree_size, checked.root) == (
            earlier.leaf_index,
            earlier.tree_size,
            earlier.root,
        )
    checkpoint = open_checkpoint(core.ledger.checkpoint()["checkpoint"], [log_key])
    assert checkpoint.size >= max(indexes) + 1
    client.delete(f"{ISSUERS}/busy")
