"""Run by the pyscitt venv's Python 3.12 (not by pytest): Microsoft's pyscitt signs statements
with its own keys and certificates and registers them at the server named in argv[1]; each
result is written to the folder argv[2] as ``<alg>.statement``, ``<alg>.receipt`` and
``<alg>.transparent``, and the refusal pyscitt raised for a tampered statement as
``tampered.error``."""

import sys
from pathlib import Path

import cbor2
from pyscitt import crypto
from pyscitt.client import Client, ServiceError

url, out = sys.argv[1], Path(sys.argv[2])
client = Client(url, development=True, wait_time=0.1)
for name, (kty, curve) in {"EdDSA": ("ed25519", None), "ES256": ("ec", "P-256")}.items():
    private, _ = crypto.generate_keypair(kty, ec_curve=curve)
    certificate = crypto.generate_cert(private, cn=f"pyscitt {name}")
    signer = crypto.Signer(private, issuer=f"urn:pyscitt:{name}", x5c=[certificate])
    statement = crypto.sign_json_statement(
        signer, {"made by": "pyscitt", "alg": name}, feed="urn:pyscitt:feed", cwt=True
    )
    submission = client.submit_signed_statement_and_wait(statement)
    receipt = client.get_receipt(submission.tx)
    (out / f"{name}.statement").write_bytes(statement)
    (out / f"{name}.receipt").write_bytes(receipt)
    (out / f"{name}.transparent").write_bytes(submission.response_bytes)
    (out / f"{name}.tx").write_text(submission.tx)

tagged = cbor2.loads(statement)
body = list(tagged.value)
body[2] = body[2] + b" "
try:
    client.submit_signed_statement_and_wait(cbor2.dumps(cbor2.CBORTag(18, body)))
except ServiceError as exc:
    (out / "tampered.error").write_text(f"{exc.code}\n{exc.message}")
