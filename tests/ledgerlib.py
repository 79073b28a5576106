"""Test helpers for the ledger: simulated devices for every algorithm, made with libraries
independent of the product's verifier where possible (coincurve, cryptography)."""

import hashlib
import json
from pathlib import Path

import coincurve
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_utils import keccak, to_checksum_address

from trustee.core import Core
from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.ledger.service import LedgerService
from trustee.secret import Secret

KINDS = ("ES256K", "ES256K-address", "EdDSA", "ES256")


class Device:
    """A device of one kind: its public ``device_key`` and a ``sign(text)`` giving base64url."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind.startswith("ES256K"):
            self._k1 = coincurve.PrivateKey()
            public = self._k1.public_key.format(compressed=False)
            key = public.hex()
            if kind == "ES256K-address":
                key = to_checksum_address(keccak(public[1:])[-20:])
            self.device_key = {"alg": "ES256K", "public_key": key}
        elif kind == "EdDSA":
            self._ed = Ed25519PrivateKey.generate()
            raw = self._ed.public_key().public_bytes_raw()
            self.device_key = {"alg": "EdDSA", "public_key": raw.hex()}
        else:
            self._p256 = ec.generate_private_key(ec.SECP256R1())
            point = self._p256.public_key().public_numbers()
            raw = b"\x04" + point.x.to_bytes(32, "big") + point.y.to_bytes(32, "big")
            self.device_key = {"alg": "ES256", "public_key": raw.hex()}

    def key_forms(self) -> dict[str, object]:
        """The public key as hex, PEM, a JWK object and JWK text, made with cryptography."""
        if self.kind == "ES256K-address":
            return {"address": self.device_key["public_key"]}
        raw = bytes.fromhex(self.device_key["public_key"])
        if self.kind == "EdDSA":
            public = Ed25519PublicKey.from_public_bytes(raw)
            jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
        else:
            curve = ec.SECP256K1() if self.kind == "ES256K" else ec.SECP256R1()
            public = ec.EllipticCurvePublicKey.from_encoded_point(curve, raw)
            jwk = {
                "kty": "EC",
                "crv": "secp256k1" if self.kind == "ES256K" else "P-256",
                "x": b64url_encode(raw[1:33]),
                "y": b64url_encode(raw[33:65]),
            }
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        return {"hex": raw.hex(), "pem": pem, "jwk": jwk, "jwk-text": json.dumps(jwk)}

    def sign(self, text: str) -> str:
        message = text.encode("utf-8")
        if self.kind.startswith("ES256K"):
            raw = self._k1.sign_recoverable(message, hasher=lambda m: hashlib.sha256(m).digest())
            # Address keys are checked by recovery: send r‖s‖v; plain keys take r‖s.
            return b64url_encode(raw if self.kind == "ES256K-address" else raw[:64])
        if self.kind == "EdDSA":
            return b64url_encode(self._ed.sign(message))
        r, s = decode_dss_signature(self._p256.sign(message, ec.ECDSA(hashes.SHA256())))
        return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def truncate(signature: str) -> str:
    return b64url_encode(b64url_decode(signature)[:-8])


def evidence(device: Device, text: str = '{"speed": 88}') -> dict[str, str]:
    return {"arc_evidence": text, "arc_evidence_signature": device.sign(text)}


def _storage(where: Path | str) -> str:
    """A storage URL as given, or a SQLite file in the given folder."""
    return where if isinstance(where, str) else f"sqlite:///{where / 'trustee.db'}"


def open_core(where: Path | str) -> tuple[Core, str]:
    """A core over a storage URL (or a folder's SQLite file), initialised and unsealed;
    returns it and its one unseal share."""
    core = Core.open(_storage(where))
    share = core.barrier.initialize(1, 1)[0]
    core.barrier.unseal(Secret(share))
    return core, share


def reopen(where: Path | str, share: str) -> tuple[Core, LedgerService]:
    core = Core.open(_storage(where))
    core.barrier.unseal(Secret(share))
    return core, core.ledger
