"""Delegated authentication against a real ``trustee server --dev`` process (issue 4).

Policies, trust lists, roles and login, encrypted claims and the JWK set, driven through
``trustee.client.Client``, raw HTTP, PyJWT, the ``trustee`` command line, and the example
rental agency running as its own process. The last test walks the README's story.
"""

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt as pyjwt
import orjson
import pytest
from typer.testing import CliRunner

from live_server import free_port, start_ready
from trustee.auth.audiences import open_claims
from trustee.cli.main import app as cli
from trustee.client import Client, InvalidRequest, NotFound, PermissionDenied
from trustee.crypto.address import address_from_public_key
from trustee.crypto.encoding import b64url_decode, b64url_encode
from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.tokens import issue_token, verify_token

pytestmark = pytest.mark.integration

AGENCY_PY = Path(__file__).resolve().parents[2] / "examples" / "rental_agency" / "agency.py"
ALICE_ONLY = """
# may claim as trustee alice and nothing else
path "trustee/trustees/alice/claim" {
  capabilities = ["update"]
}
"""
KNIGHT = {"usage": ["knight_rider", "baywatch_babes"]}
DEADLINE_SECONDS = 20
SEEN_SECRETS: set[str] = set()


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_storage_url):
    live = start_ready(
        module_storage_url,
        tmp_path_factory.mktemp("log") / "server.log",
        root_token="root-" + secrets.token_hex(8),
    )
    yield live
    assert live.stop() == 0
    log = live.log()
    for secret in SEEN_SECRETS:  # dev mode prints its root token, by design
        assert secret not in log


@pytest.fixture(scope="module")
def root(server):
    with Client(server.address, server.root) as client:
        for name in ("alice", "bob", "foundation", "agency"):
            client.create_trustee(name)
        yield client


def as_token(server, token: str) -> Client:
    SEEN_SECRETS.add(token)
    return Client(server.address, token)


def token_with(root: Client, *policies: str, ttl: str = "10m") -> str:
    token = root.create_token(list(policies), ttl)["client_token"]
    SEEN_SECRETS.add(token)
    return token


# -- ACL policies ------------------------------------------------------------------------


def test_an_alice_only_token_claims_as_alice_and_nothing_else(server, root):
    root.write_policy("alice-only", ALICE_ONLY)
    assert root.read_policy("alice-only") == ALICE_ONLY
    assert {"alice-only", "default", "root"} <= set(root.list_policies())
    token = token_with(root, "alice-only")
    with as_token(server, token) as alice_only:
        claimed = alice_only.claim("alice", audience="rental-agency", claims=KNIGHT)
        assert verify_token(claimed["jwt"], audience="rental-agency").valid
        refused = [
            lambda: alice_only.claim("bob"),
            lambda: alice_only.list_trustees(),
            lambda: alice_only.export_keystore("alice", "a long enough passphrase"),
            lambda: alice_only.export_keystore("bob", "a long enough passphrase"),
            lambda: alice_only.read_trustee("alice"),
            lambda: alice_only.write_policy("mine", ALICE_ONLY),
        ]
        for attempt in refused:
            with pytest.raises(PermissionDenied, match="permission denied"):
                attempt()
        assert alice_only.lookup_self()["policies"] == ["alice-only", "default"]
    headers = {"X-Vault-Token": token}
    for method, url in (("LIST", "/v1/trustee/trustees"), ("GET", "/v1/trustee/trustees?list=1")):
        assert httpx.request(method, server.address + url, headers=headers).status_code == 403


def test_deny_overrides_allow(server, root):
    root.write_policy("claim-any", 'path "trustee/trustees/+/claim" { capabilities = ["update"] }')
    root.write_policy("not-bob", {"path": {"trustee/trustees/bob/*": {"capabilities": ["deny"]}}})
    root.write_policy(
        "no-alice", {"path": {"trustee/trustees/alice/claim": {"capabilities": ["deny"]}}}
    )
    with as_token(server, token_with(root, "claim-any", "not-bob")) as client:
        assert client.claim("alice")["jwt"]
        with pytest.raises(PermissionDenied):
            client.claim("bob")
    with as_token(server, token_with(root, "claim-any")) as client:
        assert client.claim("bob")["jwt"]
    # The same pattern granted in one policy and denied in another: deny wins.
    token = token_with(root, "alice-only", "no-alice")
    with as_token(server, token) as client:
        with pytest.raises(PermissionDenied):
            client.claim("alice")
        root.delete_policy("no-alice")  # policies apply to live tokens at once
        assert client.claim("alice")["jwt"]
    assert "no-alice" not in root.list_policies()


def test_listing_follows_vaults_folder_rule(server, root):
    root.write_policy("lister", 'path "trustee/trustees/*" { capabilities = ["list"] }')
    with as_token(server, token_with(root, "lister")) as client:
        assert {"alice", "bob"} <= set(client.list_trustees())
        with pytest.raises(PermissionDenied):
            client.read_trustee("alice")


def test_curl_style_bodies_are_read_as_json(server, root):
    # curl -d labels JSON as a form, as in Vault's own documentation; Vault reads it as JSON.
    answer = httpx.put(
        f"{server.address}/v1/sys/policies/acl/from-curl",
        headers={"X-Vault-Token": server.root, "Content-Type": "application/x-www-form-urlencoded"},
        content=json.dumps({"policy": ALICE_ONLY}),
    )
    assert answer.status_code == 204, answer.text
    assert root.read_policy("from-curl") == ALICE_ONLY


# -- trust lists, roles, login -----------------------------------------------------------


def login_setup(root: Client, name: str = "driver", **overrides) -> dict:
    foundation = root.read_trustee("foundation")["address"]
    root.write_trust_list("vouchers", [foundation.lower()])
    settings = {
        "trust_list": "vouchers",
        "bound_audiences": ["trustee-login"],
        "bound_claims": {"licence": ["car", "tru*"]},
        "claim_mappings": {"sub": "driver", "licence": "licence"},
        "token_policies": ["alice-only"],
        "token_ttl": "15m",
        "token_max_ttl": "1h",
    } | overrides
    return root.write_role(name, **settings)


def voucher(root: Client, signer: str = "foundation", **options) -> str:
    settings = {
        "subject": "michael",
        "audience": "trustee-login",
        "claims": {"licence": ["bike", "car"]},
        "ttl": "5m",
    } | options
    return root.claim(signer, **settings)["jwt"]


def test_login_yields_the_roles_policies_and_mapped_metadata(server, root):
    role = login_setup(root)
    assert role["token_ttl"] == 900 and role["token_max_ttl"] == 3600
    assert root.read_role("driver")["trust_list"] == "vouchers"
    assert "driver" in root.list_roles()
    foundation = root.read_trustee("foundation")["address"]
    with Client(server.address, token="") as anonymous:
        auth = anonymous.login("driver", voucher(root))
    SEEN_SECRETS.add(auth["client_token"])
    assert auth["policies"] == ["alice-only", "default"]
    assert auth["metadata"] == {
        "role": "driver",
        "issuer": foundation,
        "driver": "michael",
        "licence": '["bike","car"]',
    }
    assert auth["lease_duration"] == 900 and auth["renewable"] is True
    with as_token(server, auth["client_token"]) as michael:
        assert michael.claim("alice", audience="rental-agency", claims=KNIGHT)["jwt"]
        with pytest.raises(PermissionDenied):
            michael.claim("bob")
        me = michael.lookup_self()
        assert me["meta"]["driver"] == "michael" and me["explicit_max_ttl"] == 3600
        renewed = michael.renew_self("10h")  # asked for more than the role allows
        assert 0 < renewed["lease_duration"] <= 3600
        michael.revoke_self()
        with pytest.raises(PermissionDenied):
            michael.lookup_self()


@pytest.mark.parametrize(
    ("make", "error", "reason"),
    [
        (lambda root: voucher(root, signer="bob"), PermissionDenied, "untrusted_issuer"),
        (lambda root: voucher(root, audience="elsewhere"), InvalidRequest, "audience_mismatch"),
        (lambda root: voucher(root, claims={"age": 40}), InvalidRequest, "claim_mismatch"),
        (
            lambda root: voucher(root, claims={"licence": "boat"}),
            InvalidRequest,
            "claim_mismatch",
        ),
        (
            lambda root: voucher(root, not_before=int(time.time()) - 7200, ttl=60),
            InvalidRequest,
            "expired",
        ),
        (lambda root: voucher(root)[:-6] + "AAAAAA", InvalidRequest, "bad_signature"),
    ],
)
def test_login_refusals_say_why(server, root, make, error, reason):
    login_setup(root)
    with Client(server.address, token="") as anonymous, pytest.raises(error) as refused:
        anonymous.login("driver", make(root))
    assert refused.value.message.startswith(f"login refused: {reason}")


def test_a_voucher_is_accepted_once(server, root):
    login_setup(root)
    jwt = voucher(root)
    with Client(server.address, token="") as anonymous:
        SEEN_SECRETS.add(anonymous.login("driver", jwt)["client_token"])
        with pytest.raises(InvalidRequest, match="login refused: replayed"):
            anonymous.login("driver", jwt)


def test_the_issued_token_expires(server, root):
    login_setup(root, name="brief", token_ttl=1, token_max_ttl=1)
    with Client(server.address, token="") as anonymous:
        auth = anonymous.login("brief", voucher(root))
    assert auth["lease_duration"] == 1
    deadline = time.monotonic() + DEADLINE_SECONDS
    with as_token(server, auth["client_token"]) as brief:
        while True:
            try:
                brief.lookup_self()
            except PermissionDenied:
                break
            assert time.monotonic() < deadline, "the token never expired"
            time.sleep(0.2)
    root.delete_role("brief")
    assert "brief" not in root.list_roles()
    with Client(server.address, token="") as anonymous, pytest.raises(InvalidRequest):
        anonymous.login("brief", voucher(root))


def test_trust_lists_for_verify_and_for_the_cli(server, root, tmp_path):
    alice = root.read_trustee("alice")["address"]
    assert root.write_trust_list("partners", [alice.lower()]) == [alice]
    assert root.read_trust_list("partners") == [alice]
    assert "partners" in root.list_trust_lists()
    good = root.claim("alice", audience="rental-agency")["jwt"]
    other = root.claim("bob", audience="rental-agency")["jwt"]
    answer = root.verify_token(good, audience="rental-agency", trust_list="partners")
    assert (answer["valid"], answer["trusted"]) == (True, True)
    refused = root.verify_token(other, audience="rental-agency", trust_list="partners")
    assert (refused["valid"], refused["reason"]) == (False, "untrusted_issuer")
    # The server's answer, saved as is, is a trust-list file for `trustee verify`.
    saved = httpx.get(
        f"{server.address}/v1/trustee/trust-lists/partners",
        headers={"X-Vault-Token": server.root},
    )
    trust_file = tmp_path / "partners.json"
    trust_file.write_bytes(saved.content)
    for token, status in ((good, 0), (other, 1)):
        arguments = ["verify", token, "--trust-list", str(trust_file), "--json"]
        verdict = CliRunner().invoke(cli, [*arguments, "--audience", "rental-agency"])
        assert verdict.exit_code == status, verdict.output
        assert json.loads(verdict.stdout)["trusted"] is (status == 0)
    root.delete_trust_list("partners")
    with pytest.raises(NotFound):
        root.read_trust_list("partners")


# -- audiences and encryption ------------------------------------------------------------


def test_encrypted_claims_open_only_with_the_audiences_key(server, root):
    outsider_key, stranger_key = generate_private_key(), generate_private_key()
    outsider = address_from_public_key(public_key_from_private(outsider_key))
    registered = root.register_audience("outsider", issue_token(outsider_key).jwt)
    assert registered["address"] == outsider
    assert root.read_audience("outsider")["public_key"] == registered["public_key"]
    secret_claims = {"plate": "KNI 6HT", "code": 1982}
    claimed = root.claim("alice", claims=secret_claims, encrypt_for="outsider")
    assert "KNI 6HT" not in claimed["jwt"]
    payload = verify_token(claimed["jwt"]).claims
    opened = open_claims(outsider_key, payload)
    assert {name: opened[name] for name in secret_claims} == secret_claims
    with pytest.raises(CryptoError):
        open_claims(stranger_key, payload)

    # A trustee as the audience: the server decrypts with its key, and only with its key.
    agency_jwt = root.claim("agency")["jwt"]
    root.register_audience("agency", agency_jwt)
    sealed = root.claim("alice", claims=secret_claims, encrypt_for="agency")["claims"]
    assert root.decrypt_claims("agency", sealed)["plate"] == "KNI 6HT"
    with pytest.raises(InvalidRequest):
        root.decrypt_claims("bob", sealed)
    ciphertext = root.encrypt("bob", "bay 7", audience="agency")["ciphertext"]
    assert root.decrypt("agency", ciphertext) == b"bay 7"
    with pytest.raises(InvalidRequest):
        root.decrypt("bob", ciphertext)
    assert {"outsider", "agency"} <= set(root.list_audiences())
    root.delete_audience("outsider")
    with pytest.raises(NotFound):
        root.claim("alice", claims=secret_claims, encrypt_for="outsider")


# -- JWKS --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/trustee/jwks", "/.well-known/jwks.json"])
def test_pyjwkclient_verifies_a_claimed_token(server, root, path):
    claimed = root.claim("alice", audience="rental-agency", claims=KNIGHT)
    signing_key = pyjwt.PyJWKClient(server.address + path).get_signing_key_from_jwt(claimed["jwt"])
    claims = pyjwt.decode(
        claimed["jwt"], signing_key.key, algorithms=["ES256K"], audience="rental-agency"
    )
    assert claims["iss"] == root.read_trustee("alice")["address"]
    assert claims["usage"] == KNIGHT["usage"]
    assert root.read_trustee("alice")["address"] in {key["kid"] for key in root.jwks()["keys"]}


# -- the README's story, with the agency as its own process ------------------------------


class Agency:
    def __init__(self, trust_file: Path, log_path: Path) -> None:
        listen = f"127.0.0.1:{free_port()}"
        self.address = f"http://{listen}"
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(AGENCY_PY), "--trust-list", str(trust_file), "--listen", listen],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            assert self.process.poll() is None, log_path.read_text()
            try:
                httpx.get(f"{self.address}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the agency did not start"
                time.sleep(0.1)

    def rent(self, token: str, car: str = "knight_rider") -> httpx.Response:
        return httpx.post(
            f"{self.address}/cars/{car}/rent", headers={"Authorization": f"Bearer {token}"}
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=DEADLINE_SECONDS)
        self._log.close()


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = orjson.loads(b64url_decode(payload)) | {"sub": "someone else"}
    return f"{header}.{b64url_encode(orjson.dumps(claims))}.{signature}"


def test_the_car_rental_story(server, root, tmp_path):
    root.write_policy("alice-only", ALICE_ONLY)
    login_setup(root)
    alice = root.read_trustee("alice")["address"]
    trust_file = tmp_path / "partners.json"
    saved = httpx.post(
        f"{server.address}/v1/trustee/trust-lists/agency-partners",
        headers={"X-Vault-Token": server.root},
        json={"addresses": [alice]},
    )
    trust_file.write_bytes(saved.content)
    with Client(server.address, token="") as anonymous:
        michael_token = anonymous.login("driver", voucher(root))["client_token"]
    with as_token(server, michael_token) as michael:
        jwt = michael.claim("alice", audience="rental-agency", subject="michael", claims=KNIGHT)[
            "jwt"
        ]
        no_usage = michael.claim("alice", audience="rental-agency", claims={"usage": []})["jwt"]
        expired = michael.claim(
            "alice", audience="rental-agency", claims=KNIGHT, not_before=0, ttl=60
        )["jwt"]
    agency = Agency(trust_file, tmp_path / "agency.log")
    try:
        rented = agency.rent(jwt)
        assert rented.status_code == 200, rented.text
        assert rented.json()["renter"] == "michael"
        assert rented.json()["vouched_by"] == alice
        assert agency.rent(jwt, car="delorean").status_code == 403
        assert agency.rent(no_usage).status_code == 403
        untrusted = root.claim("bob", audience="rental-agency", claims=KNIGHT)["jwt"]
        for token, reason in (
            (untrusted, "untrusted_issuer"),
            (expired, "expired"),
            (tampered(jwt), "bad_signature"),
            (voucher(root), "audience_mismatch"),
        ):
            refused = agency.rent(token)
            assert refused.status_code == 401
            assert f'error_description="{reason}"' in refused.headers["www-authenticate"]
    finally:
        agency.stop()
