"""A device-side client for trustee's signed records: it signs the *what*, the server records
*who* and *when*.

The device makes its own key, keeps it in a file only it can read, and never sends it: the
server learns the public key once, when the asset is registered. Each reading is signed on the
device (the signature covers the UTF-8 bytes of the evidence text) and posted over HTTP.
Anyone can then check, against the registered key, that the server stored what the device
said. Only ``httpx`` and ``cryptography`` are needed: a device does not install trustee.

    export TRUSTEE_ADDR=http://127.0.0.1:8200 TRUSTEE_TOKEN=...
    python device.py register --key-file boiler.pem --alg ES256 --name boiler-7
    python device.py record --key-file boiler.pem --asset <uuid> --evidence '{"temp_c": 71.5}'
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALGORITHMS = ("ES256", "ES256K", "EdDSA")
RETRIES = 4
"""Attempts after the first, 1, 2, 4, 8 s apart (or as the server's Retry-After says)."""
_CURVES = {"ES256": ec.SECP256R1, "ES256K": ec.SECP256K1}


class Device:
    """The device's secure element, in software: a private key that only signs."""

    def __init__(self, private_key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> None:
        self._key = private_key
        if isinstance(private_key, Ed25519PrivateKey):
            self.alg = "EdDSA"
        elif isinstance(private_key.curve, ec.SECP256R1):
            self.alg = "ES256"
        elif isinstance(private_key.curve, ec.SECP256K1):
            self.alg = "ES256K"
        else:
            raise ValueError(f"unsupported curve {private_key.curve.name}")

    def __repr__(self) -> str:
        return f"<Device {self.alg}>"  # never the key

    @classmethod
    def load(cls, path: Path) -> Device:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} holds neither an Ed25519 nor an EC key")
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path, alg: str) -> Device:
        """The key in ``path``; a new one (readable by this user only) when there is none."""
        if path.exists():
            return cls.load(path)
        if alg == "EdDSA":
            key = Ed25519PrivateKey.generate()
        else:
            key = ec.generate_private_key(_CURVES[alg]())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        return cls(key)

    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def sign(self, evidence: str) -> str:
        """base64url of the signature over the evidence's UTF-8 bytes, padded: the form RKVST's
        signed-records sample writes and reads back (trustee takes it with or without padding).

        EdDSA signs the bytes; ES256 and ES256K sign SHA-256 of them and are written as the
        64 bytes r‖s (JOSE form, not DER).
        """
        message = evidence.encode("utf-8")
        if isinstance(self._key, Ed25519PrivateKey):
            raw = self._key.sign(message)
        else:
            r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
            raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return base64.urlsafe_b64encode(raw).decode("ascii")


class Ledger:
    """The few trustee routes a device uses, over plain HTTP."""

    def __init__(self, address: str, token: str) -> None:
        self._http = httpx.Client(
            base_url=address.rstrip("/") + "/v1/", headers={"X-Vault-Token": token}, timeout=30
        )

    def close(self) -> None:
        self._http.close()

    def _data(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Post with an idempotency key, retrying the same key after a timeout, a refused
        connection, 429 or 5xx: the ledger answers what the first attempt appended, if it did,
        so a retry never records the same evidence twice."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        for attempt in range(RETRIES + 1):
            try:
                answer = self._http.request(method, path, json=body, headers=headers)
            except httpx.TransportError:
                if attempt == RETRIES:
                    raise
                time.sleep(2**attempt)
                continue
            if (answer.status_code != 429 and answer.status_code < 500) or attempt == RETRIES:
                break
            time.sleep(float(answer.headers.get("Retry-After", 2**attempt)))
        if answer.status_code != 200:
            try:
                errors = answer.json().get("errors", [])
            except ValueError:
                errors = []
            raise SystemExit(f"{method} {path}: {answer.status_code} {'; '.join(errors)}")
        return answer.json()["data"]

    def register(self, device: Device, name: str, require_signature: bool) -> dict[str, Any]:
        body = {
            "attributes": {"arc_display_name": name, "arc_display_type": "device"},
            "device_key": {"alg": device.alg, "public_key": device.public_key_pem()},
            "require_signature": require_signature,
        }
        return self._data("POST", "ledger/assets", body)

    def record(self, device: Device, asset: str, evidence: str) -> dict[str, Any]:
        body = {
            "operation": "Record",
            "behaviour": "RecordEvidence",
            "event_attributes": {
                "arc_evidence": evidence,
                "arc_evidence_signature": device.sign(evidence),
            },
            "principal_declared": {"issuer": "device", "subject": device.alg},
        }
        return self._data("POST", f"ledger/assets/{asset}/events", body)


def _connect() -> Ledger:
    address = os.environ.get("TRUSTEE_ADDR") or os.environ.get("VAULT_ADDR")
    token = os.environ.get("TRUSTEE_TOKEN") or os.environ.get("VAULT_TOKEN")
    if not address or not token:
        raise SystemExit("set TRUSTEE_ADDR and TRUSTEE_TOKEN")
    return Ledger(address, token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="make the key if needed, register the asset")
    register.add_argument("--key-file", type=Path, required=True)
    register.add_argument("--alg", choices=ALGORITHMS, default="ES256")
    register.add_argument("--name", default="device")
    register.add_argument("--require-signature", action="store_true")
    record = commands.add_parser("record", help="sign evidence and post it as an event")
    record.add_argument("--key-file", type=Path, required=True)
    record.add_argument("--asset", required=True, help="the asset uuid from register")
    record.add_argument("--evidence", action="append", required=True, help="repeat for more")
    args = parser.parse_args(argv)

    ledger = _connect()
    try:
        if args.command == "register":
            device = Device.load_or_create(args.key_file, args.alg)
            asset = ledger.register(device, args.name, args.require_signature)
            print(json.dumps({"asset": asset["uuid"], "alg": device.alg}))
        else:
            if not args.key_file.exists():
                raise SystemExit(f"no key in {args.key_file}: run register first")
            device = Device.load(args.key_file)
            for evidence in args.evidence:
                event = ledger.record(device, args.asset.removeprefix("assets/"), evidence)
                print(json.dumps({"event": event["identity"], "log_index": event["log_index"]}))
    finally:
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
