"""Over a whole session against a real server (initialise, unseal with shares, trustees made,
imported with a passphrase and exported, claims, login, child tokens, encryption, seal and
unseal again), no secret the session created appears in the server's stdout/stderr or in the
audit file. The audit file does hold their HMACs, so it did see them."""

import base64
import secrets

import pytest
from robustlib import OperatedServer

from trustee.crypto.keystore import encrypt_keystore

pytestmark = pytest.mark.integration


def test_no_secret_reaches_the_logs_or_the_audit_file(tmp_path):
    server = OperatedServer(tmp_path, "--log-level", "debug", shares=3, threshold=2)
    made: dict[str, str] = {f"share {i}": share for i, share in enumerate(server.shares)}
    made["root token"] = server.root_token
    imported_key = secrets.token_bytes(32)
    raw_key = secrets.token_bytes(32)
    passphrase = "import passphrase " + secrets.token_hex(8)
    export_passphrase = "export passphrase " + secrets.token_hex(8)
    plaintext = "the plaintext " + secrets.token_hex(8)
    keystore = encrypt_keystore(imported_key, passphrase, scrypt_n=2**10)
    made |= {
        "imported key": imported_key.hex(),
        "raw key": raw_key.hex(),
        "import passphrase": passphrase,
        "export passphrase": export_passphrase,
        "keystore ciphertext": keystore["crypto"]["ciphertext"],
        "keystore mac": keystore["crypto"]["mac"],
        "plaintext": plaintext,
    }
    try:
        with server.client() as client:

            def call(method, path, **body):
                answer = client.request(method, f"/v1/{path}", json=body or None)
                assert answer.status_code in (200, 204), f"{path}: {answer.text}"
                return answer.json() if answer.status_code == 200 else None

            call("POST", "trustee/trustees/alice", metadata={"team": "fleet"})
            call("POST", "trustee/import/bob", keystore=keystore, passphrase=passphrase)
            call("POST", "trustee/import/carol", private_key=raw_key.hex())
            exported = call("POST", "trustee/trustees/bob/export", passphrase=export_passphrase)
            made["exported ciphertext"] = exported["data"]["keystore"]["crypto"]["ciphertext"]
            made["exported mac"] = exported["data"]["keystore"]["crypto"]["mac"]

            jwt = call("POST", "trustee/trustees/alice/claim", audience="agency")["data"]["jwt"]
            made["jwt"] = jwt
            made["jwt signature"] = jwt.rsplit(".", 1)[1]
            call("POST", "trustee/verify", token=jwt, audience="agency")
            alice = call("GET", "trustee/trustees/alice")["data"]["address"]
            role = {"bound_issuers": [alice], "bound_audiences": "agency"}
            call("POST", "auth/trustee/role/renter", **role)
            login = call("POST", "auth/trustee/login", role="renter", jwt=jwt)
            made["login token"] = login["auth"]["client_token"]
            child = call("POST", "auth/token/create", policies=["default"])
            made["child token"] = child["auth"]["client_token"]

            encoded = base64.b64encode(plaintext.encode()).decode()
            sealed = call("POST", "trustee/trustees/alice/encrypt", plaintext=encoded)
            made["ciphertext"] = sealed["data"]["ciphertext"]
            call("POST", "trustee/trustees/alice/decrypt", ciphertext=made["ciphertext"])
            call("POST", "trustee/trustees/alice/sign", data="hello")

            call("POST", "sys/seal")
            server.unseal()
            hashes = {
                what: call("POST", "sys/audit-hash", input=value)["data"]["hash"]
                for what, value in made.items()
            }
        with server.client(made["child token"]) as client:
            assert client.get("/v1/auth/token/lookup-self").status_code == 200
    finally:
        assert server.stop() == 0

    logs = (tmp_path / "server.log").read_text(errors="replace")
    audit = server.audit_path.read_text()
    assert "POST /v1/trustee/import/bob" in logs  # the access log was on: the check can fail
    for what, value in made.items():
        assert value not in logs, f"the {what} is in the server's output"
        assert value not in audit, f"the {what} is in the audit file"
        assert value.upper() not in audit.upper(), f"the {what} is in the audit file"
    for what in ("root token", "share 0", "import passphrase", "jwt", "child token"):
        assert hashes[what] in audit, f"the audit file never saw the {what}"
