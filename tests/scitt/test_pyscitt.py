"""Third-party SCITT tools against a live server: Microsoft's ``pyscitt`` signs statements
(EdDSA and ES256, with X.509 certificates and CWT claims) and registers them over SCRAPI;
``scitt-cose`` verifies every receipt and transparent statement offline against the key from
``/.well-known/scitt-keys``; ``pycose`` checks the receipt signature independently.

pyscitt 0.15 needs Python >= 3.12. The test looks for one (``TRUSTEE_PYTHON312``, then
``python3.12`` on the PATH, then pyenv's 3.12 versions; ``.ci/run`` installs one through
pyenv when the machine lacks it) and builds pyscitt's venv with it once, cached under the
temporary folder. Without any 3.12 interpreter the test is skipped, saying so.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
import scitt_cose
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from scittlib import pycose_key, pycose_message

from live_server import LiveServer
from trustee.scitt import (
    decode_sign1,
    entry_of,
    parse_key_set,
    verify_receipt,
    verify_transparent_statement,
)

pytestmark = pytest.mark.integration

PYSCITT = "pyscitt==0.15.0"
HERE = Path(__file__).parent


def python312() -> str | None:
    """A Python 3.12 interpreter that runs (a pyenv shim may name one it cannot run)."""
    candidates = [os.environ.get("TRUSTEE_PYTHON312")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    candidates.append(shutil.which("python3.12"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run([candidate, "--version"], capture_output=True, check=False)
            if probe.returncode == 0:
                return candidate
    return None


@pytest.fixture(scope="module")
def pyscitt_python() -> str:
    interpreter = python312()
    if interpreter is None:
        pytest.skip("pyscitt needs Python >= 3.12 and none was found (.ci/run installs one)")
    venv = Path(tempfile.gettempdir()) / f"trustee-pyscitt-{PYSCITT.split('==')[1]}"
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    if not ready.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", PYSCITT], check=True, timeout=900
        )
        ready.touch()
    return str(python)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    live = LiveServer("--dev", log_path=tmp_path_factory.mktemp("pyscitt") / "server.log")
    yield live
    assert live.stop() == 0


def pem(key) -> bytes:
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + key.x + key.y)
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_pyscitt_registers_and_third_party_tools_verify(
    pyscitt_python: str, server: LiveServer, tmp_path: Path
) -> None:
    before = httpx.get(f"{server.address}/v1/sys/health").status_code
    assert before == 200
    subprocess.run(
        [pyscitt_python, str(HERE / "pyscitt_register.py"), server.address, str(tmp_path)],
        check=True,
        timeout=300,
    )
    keys = parse_key_set(httpx.get(f"{server.address}/.well-known/scitt-keys").content)
    ((kid, key),) = keys.items()
    for name in ("EdDSA", "ES256"):
        statement = (tmp_path / f"{name}.statement").read_bytes()
        receipt = (tmp_path / f"{name}.receipt").read_bytes()
        transparent = (tmp_path / f"{name}.transparent").read_bytes()
        entry = entry_of(decode_sign1(statement))
        # scitt-cose: the receipt for the entry, under the published key.
        result = scitt_cose.verify_receipt(
            receipt, leaf_entry_hex=entry.hex(), log_public_key_pem=pem(key)
        )
        assert result.ok, result.errors
        assert f"{result.tree_size}.{result.leaf_index}" == (tmp_path / f"{name}.tx").read_text()
        # scitt-cose: the transparent statement carries that receipt and pyscitt's signature.
        (embedded,) = scitt_cose.extract_receipts(transparent)
        check = scitt_cose.verify_receipt(
            embedded, leaf_entry_hex=entry.hex(), log_public_key_pem=pem(key)
        )
        assert check.ok, check.errors
        parsed = scitt_cose.parse_signed_statement(transparent)
        assert parsed is not None
        # pycose: the receipt's signature over the root the proof implies.
        message = pycose_message(receipt)
        message.payload = bytes.fromhex(result.root)
        message.key = pycose_key(key)
        assert message.verify_signature()
        # and ours, offline.
        ours = verify_transparent_statement(transparent, keys)
        assert ours.statement.key_source == "x5chain"
        assert ours.statement.issuer == f"urn:pyscitt:{name}"
        assert ours.statement.subject == "urn:pyscitt:feed"
        assert verify_receipt(receipt, entry, keys).kid == kid
    code, message = (tmp_path / "tampered.error").read_text().split("\n", 1)
    assert code == "Bad Request" and message.startswith("bad_signature")
