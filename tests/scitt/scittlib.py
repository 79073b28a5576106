"""Helpers of the SCITT tests: statements signed by keys of each supported kind, and pycose
(an independent COSE implementation) to check what the service answers."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from ecdsa.curves import SECP256k1
from pycose.algorithms import CoseAlgorithm, _Ecdsa
from pycose.keys import EC2Key, OKPKey
from pycose.messages import Sign1Message

from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.scitt import CoseKey, sign_statement
from trustee.scitt.keys import EDDSA, ES256, ES256K, ES384
from trustee.server.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

COSE = {"Content-Type": "application/cose"}


@contextmanager
def root_client(ready: Any) -> Iterator[TestClient]:
    """A client of the app of ``ready`` (an ``open_dev_core`` result), with its root token,
    that leaves redirects to the test (a registration answers 303)."""
    with TestClient(create_app(ready.core), follow_redirects=False) as client:
        client.headers["X-Vault-Token"] = ready.root
        yield client


def register(client: TestClient, data: bytes) -> str:
    """Register a signed statement through ``POST /entries``; the receipt's location."""
    response = client.post("/entries", content=data, headers=COSE)
    assert response.status_code == 303, response.content
    assert response.headers["retry-after"]
    location = response.headers["location"]
    assert location.startswith("/entries/")
    tree_size, index = location.rsplit("/", 1)[1].split(".")
    assert tree_size.isdigit() and index.isdigit() and int(index) < int(tree_size)
    return location


@CoseAlgorithm.register_attribute()
class Es256K(_Ecdsa):
    """RFC 8812 ES256K (COSE -47), which pycose 1.1 lacks: ECDSA on secp256k1 with SHA-256,
    checked by pycose's own ECDSA code (python-ecdsa), independent of coincurve and of
    ``cryptography``. Registering it lets pycose read and verify trustee's ES256K statements."""

    identifier = -47
    fullname = "ES256K"

    @classmethod
    def get_hash_func(cls) -> Any:
        return hashlib.sha256

    @classmethod
    def get_curve(cls) -> Any:
        return SECP256k1


def mutable(value: Any) -> Any:
    """cbor2 6 answers frozen maps and tuples inside tags; pycose wants dicts and lists."""
    if hasattr(value, "items"):
        return {key: mutable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mutable(item) for item in value]
    return value


def pycose_message(data: bytes) -> Sign1Message:
    tagged = cbor2.loads(data)
    assert tagged.tag == 18
    return Sign1Message.from_cose_obj(mutable(tagged.value), True)


def pycose_key(key: CoseKey) -> Any:
    if key.kty == 1:
        return OKPKey(crv="ED25519", x=key.x)
    crv = {1: "P_256", 2: "P_384", 8: "SECP256K1"}[key.crv]
    return EC2Key(crv=crv, x=key.x, y=key.y)


def statement(kind: str, payload: bytes = b'{"hello": "world"}', **options: Any) -> bytes:
    """A statement signed with a fresh key of ``kind`` carried as a CWT cnf key (or, for
    ``ES256K-kid``, named by address in ``kid`` and recovered)."""
    if kind == "EdDSA":
        private: Any = ed25519.Ed25519PrivateKey.generate()
        alg = EDDSA
    elif kind in ("ES256", "ES384"):
        private = ec.generate_private_key(ec.SECP256R1() if kind == "ES256" else ec.SECP384R1())
        alg = ES256 if kind == "ES256" else ES384
    else:
        private, alg = generate_private_key(), ES256K
    if alg == ES256K:
        public = CoseKey.from_secp256k1(public_key_from_private(private))
    else:
        public = CoseKey.from_public_key(private.public_key())
    options.setdefault("content_type", "application/json")
    options.setdefault("issuer", "urn:example:issuer")
    options.setdefault("subject", "urn:example:subject")
    if kind == "ES256K-kid":
        address = public.address()
        assert address is not None
        return sign_statement(payload, private, alg, kid=address.encode(), **options)
    return sign_statement(payload, private, alg, public_key=public, **options)
