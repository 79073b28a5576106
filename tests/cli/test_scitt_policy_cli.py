"""``trustee server``'s SCITT policy options: ``--scitt-policy registered`` or a trust list
turn the production policy on, contradictions and unknown names are one-line errors."""

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from trustee.cli.server import SCITT_POLICY_ENV, SCITT_TRUST_LIST_ENV, scitt_policy, scitt_settings
from trustee.scitt.registry import RegistrationPolicy


def server(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTEE_", "VAULT_"))}
    return subprocess.run(
        [sys.executable, "-m", "trustee", "server", "--listen", "127.0.0.1:9", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | {"COLUMNS": "200"},
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--scitt-policy", "strict"], "--scitt-policy must be one of open, registered"),
        (["--scitt-policy", "open", "--scitt-trust-list", "x"], "cannot go with"),
    ],
)
def test_bad_policy_options_are_one_line(args: list[str], says: str) -> None:
    completed = server(*args)
    assert completed.returncode == 1, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), completed.stderr
    assert says in lines[0]


@pytest.mark.parametrize(
    ("policy", "trust_list", "expected"),
    [
        (None, None, RegistrationPolicy()),
        ("open", None, RegistrationPolicy()),
        ("registered", None, RegistrationPolicy(registered_keys=True)),
        (None, "issuers", RegistrationPolicy(trust_list="issuers", registered_keys=True)),
        ("registered", "issuers", RegistrationPolicy(trust_list="issuers", registered_keys=True)),
    ],
)
def test_the_policy_each_worker_reads(
    monkeypatch: pytest.MonkeyPatch,
    policy: str | None,
    trust_list: str | None,
    expected: RegistrationPolicy,
) -> None:
    for name in (SCITT_POLICY_ENV, SCITT_TRUST_LIST_ENV):
        monkeypatch.setenv(name, "")  # recorded, so whatever scitt_settings sets is undone
        monkeypatch.delenv(name)
    scitt_settings(policy, trust_list)
    core = SimpleNamespace(scitt=SimpleNamespace(policy=None))
    scitt_policy(core)  # type: ignore[arg-type]  # only its registry's policy is set
    assert core.scitt.policy == expected
    assert core.scitt.policy.open == (expected == RegistrationPolicy())
