"""Real JavaScript clients against a live server: did-jwt 8, ethers 6, jose 5, node-vault 0.12
and siwe 3 (``tests/js``, its lockfile committed).

``npm ci`` runs once into ``tests/js/node_modules`` and again only when the lockfile changes
(a stamp in ``node_modules`` records the lockfile's hash). ``tests/js/run.mjs`` runs every check
in one Node process and prints one JSON line per check; each check is one test here. The
module skips when ``node`` or ``npm`` is missing (``.ci/run`` installs them on Debian).
"""

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from live_server import LiveServer

pytestmark = pytest.mark.integration

JS = Path(__file__).resolve().parent.parent / "js"
STAMP = JS / "node_modules" / ".trustee-lockfile-sha256"
NODE, NPM = shutil.which("node"), shutil.which("npm")

CHECKS = [
    "did-jwt verifyJWT: a trustee token with issuer_format did:ethr",
    "did-jwt verifyJWT: refuses a did:ethr token signed by another trustee",
    "did-jwt verifyJWS and didAuthenticator: a trustee token with a bare-address iss",
    "jose 5 jwtVerify: trustee tokens with the remote JWK set, either iss form",
    "jose 5 jwtVerify: the JWK of trustee/addresses/:address; a wrong key refuses",
    "did-jwt createJWT ES256K → trustee/verify",
    "did-jwt createJWT ES256K-R → trustee/verify",
    "jose 5 SignJWT ES256K (bare-address iss, kid) → trustee/verify",
    "EIP-191: ethers signMessage → trustee verifies (utf8 and hex bytes)",
    "EIP-191: trustee signs → ethers verifyMessage recovers its address",
    "EIP-712: ethers signTypedData → trustee verifies",
    "EIP-712: trustee signs → ethers verifyTypedData recovers its address",
    "siwe 3: a Sign-In-with-Ethereum message signed by a trustee verifies",
    "node-vault: write, read, list (LIST and ?list=1), claim, delete",
    "node-vault: addPolicy, getPolicy, policies, removePolicy (sys/policy)",
    "node-vault: a token with a policy from addPolicy gets exactly that",
    "node-vault: tokenLookupSelf on the root token",
    "keystore: ethers Wallet.encrypt → trustee/import; the same signatures",
    "keystore: trustee export → ethers Wallet.fromEncryptedJson",
    "siwe 3 + ethers 6: prepareMessage + signMessage log in to auth/trustee/siwe/login",
    "siwe 3 + ethers 6: other domain, other chain, expired, wrong signer, other role's nonce "
    "refused",
]


def lockfile_hash() -> str:
    return hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()


def install() -> None:
    """``npm ci`` unless ``node_modules`` was made from this very lockfile; one process at a
    time (a lock file), since xdist workers may share the checkout."""
    with open(JS / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wanted = lockfile_hash()
        if STAMP.is_file() and STAMP.read_text() == wanted:
            return
        done = subprocess.run(
            [NPM or "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {JS}:\n{done.stdout}\n{done.stderr}", pytrace=False)
        STAMP.write_text(wanted)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict]:
    if NODE is None or NPM is None:
        pytest.skip(
            "node and npm are needed for the JavaScript peer checks (Debian: apt-get install "
            "nodejs npm; .ci/run installs them)"
        )
    install()
    root = "root-" + secrets.token_hex(8)
    live = LiveServer(
        "--dev",
        "--dev-root-token",
        root,
        log_path=tmp_path_factory.mktemp("js-peers") / "server.log",
    )
    banner = len(live.log())  # a dev server prints its root token once, as Vault's does
    try:
        env = dict(os.environ, TRUSTEE_ADDR=live.address, TRUSTEE_TOKEN=root)
        env.pop("VAULT_TOKEN", None)
        done = subprocess.run(
            [NODE, "run.mjs"], cwd=JS, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        assert live.stop() == 0
    # lookup-self answered the root token as its id: never into the server's log
    assert root not in live.log()[banner:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        pytest.fail(f"the checks printed nothing:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return {line["check"]: line for line in lines}


def test_every_check_ran(results) -> None:
    assert sorted(results) == sorted(CHECKS)


@pytest.mark.parametrize("name", CHECKS)
def test_js_peer(results, name) -> None:
    outcome = results.get(name)
    assert outcome is not None, f"{name!r} did not run"
    assert outcome["ok"], outcome.get("error")
