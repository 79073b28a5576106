"""RKVST's signed-records sample, unmodified, against a live server: its four commands, its own
verdicts (one GOOD, one BAD), and the same verdicts from /v1 and from the offline audit.

The sample pins ``cryptography~=41.0``, which trustee's own floor (42) excludes, so it runs from
a virtual environment of its own: ``TRUSTEE_DATATRAILS_SAMPLES_PYTHON`` names its interpreter,
else one is made once in pytest's cache from ``samples-requirements.txt`` (skipped, saying why,
when the package index cannot be reached).
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from live_server import start_ready
from trustee.ledger.audit import audit_bundle

pytestmark = pytest.mark.integration

REQUIREMENTS = Path(__file__).with_name("samples-requirements.txt")
ENTRY = "archivist_samples.signed_records.main"


@pytest.fixture(scope="module")
def sample_python(request: pytest.FixtureRequest) -> str:
    given = os.environ.get("TRUSTEE_DATATRAILS_SAMPLES_PYTHON")
    if given:
        return given
    folder = request.config.cache.mkdir("datatrails-samples-0.20.0")
    python = folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    ready = folder / "ready"
    if not ready.exists():
        venv.create(folder, with_pip=True, clear=True)
        installed = subprocess.run(
            [python, "-m", "pip", "install", "-q", "-r", REQUIREMENTS],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode != 0:
            pytest.skip(f"cannot install the sample: {installed.stderr[-500:]}")
        ready.write_text("ok\n")
    return str(python)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('storage') / 'trustee.db'}"
    live = start_ready(url, tmp_path_factory.mktemp("log") / "server.log", root_token="sample-root")
    yield live
    assert live.stop() == 0


def run_sample(python: str, server, folder: Path, *arguments: str) -> str:
    """One command of the sample, run as its users run it; its log (stderr) is its output."""
    done = subprocess.run(
        [
            python,
            "-c",
            f"from {ENTRY} import main; main()",
            "-u",
            server.address,
            "-t",
            ".auth_token",
            *arguments,
            "boiler",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_sample_runs_unmodified(sample_python: str, server, tmp_path: Path) -> None:
    (tmp_path / ".auth_token").write_text(server.root + "\n")
    run_sample(sample_python, server, tmp_path, "--create")
    run_sample(sample_python, server, tmp_path, "--sign-message", "pressure 1.2 bar")
    run_sample(sample_python, server, tmp_path, "--bad-sign-message", "pressure 9.9 bar")
    checked = run_sample(sample_python, server, tmp_path, "--check")
    lines = [line for line in checked.splitlines() if "GOOD" in line or "BAD" in line]
    assert lines == ["√ GOOD", "X BAD"], checked

    # The same events, read through /v1 and audited offline, have the same verdicts.
    identity = next(tmp_path.glob("*.aid")).read_text().strip()
    uuid = identity.removeprefix("assets/")
    with httpx.Client(
        base_url=f"{server.address}/v1/", headers={"X-Vault-Token": server.root}
    ) as v1:
        verdicts = v1.get(f"ledger/assets/{uuid}/verify").json()["data"]["events"]
        assert [v["status"] for v in verdicts] == ["GOOD", "BAD"]
        bundle = v1.get(f"ledger/assets/{uuid}/bundle").json()["data"]
        log_key = v1.get("ledger/log/public-key").json()["data"]["key"]
        history = v1.get(f"ledger/assets/{uuid}").json()["data"]["key_history"]
    assert [record["alg"] for record in history] == ["EdDSA"]
    report = audit_bundle(bundle, log_key)
    assert [row.status for row in report.rows] == ["GOOD", "BAD"]
