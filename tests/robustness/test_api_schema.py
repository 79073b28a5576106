"""schemathesis against a live server's /v1/openapi.json, every operation, with the root token:
no 500, every status and body as documented, invalid input refused, 405s that name the
methods. CI's run is bounded by examples per operation; the long run is described below.

``positive_data_acceptance`` is left out: it expects every schema-valid request to succeed,
but names, policies and tokens have rules JSON Schema does not state (a role name's alphabet,
a root token that cannot renew), and those answer 400 by design.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from robustlib import OperatedServer

pytestmark = pytest.mark.integration

SEED = "20260101"
# CI: random cases (valid and invalid) for every operation, then stateful sequences. The long
# run adds the coverage phase (a few thousand boundary and type-violation cases, minutes):
#   TRUSTEE_SCHEMATHESIS_PHASES=examples,coverage,fuzzing,stateful \
#   TRUSTEE_SCHEMATHESIS_EXAMPLES=50 python -m pytest tests/robustness/test_api_schema.py
PHASES = os.environ.get("TRUSTEE_SCHEMATHESIS_PHASES", "examples,fuzzing,stateful")
EXAMPLES = int(os.environ.get("TRUSTEE_SCHEMATHESIS_EXAMPLES", "6"))
# The write-heavy operations that end the session are run last, on their own.
ENDING = r"auth/token/revoke-self|sys/seal$"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    operated = OperatedServer(tmp_path_factory.mktemp("schema"))
    yield operated
    assert operated.stop() == 0


def run_schemathesis(server, tmp_path, token, *selection, examples):
    """Run the schemathesis CLI; return (exit status, its output, the failures it reported)."""
    report = tmp_path / f"junit-{len(list(tmp_path.iterdir()))}.xml"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{server.address}/v1/openapi.json",
        "--header",
        f"X-Vault-Token: {token}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(examples),
        "--phases",
        PHASES,
        "--workers",
        "1",
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *selection,
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    failures = []
    if report.exists():
        # The report is our own subprocess's, written to our own temporary folder.
        for case in ElementTree.parse(report).getroot().iter("testcase"):  # noqa: S314
            for problem in [*case.iter("failure"), *case.iter("error")]:
                failures.append(f"{case.get('name')}: {(problem.get('message') or '')[:300]}")
    return run.returncode, run.stdout[-6000:], failures


def test_every_operation_matches_its_documentation(server, tmp_path):
    status, output, failures = run_schemathesis(
        server,
        tmp_path,
        server.root_token,
        "--exclude-path-regex",
        ENDING,
        examples=EXAMPLES,
    )
    assert not failures, "\n".join(failures) + "\n" + output
    assert status == 0, output


def _ending_case_check(server, operation, fresh_token, after, also_excluded=(), examples=10):
    """Each generated case of ``operation`` gets a fresh token and a server restored after it,
    so the first call does not turn every later one into a 403 or a 503."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=operation.as_strategy())
    def check(case):
        try:
            case.call_and_validate(
                headers={"X-Vault-Token": fresh_token()},
                excluded_checks=[schemathesis.checks.positive_data_acceptance, *also_excluded],
            )
        finally:
            after()

    check()


def test_the_ending_operations_match_too(server):
    """revoke-self and sys/seal end a session: each case runs on a fresh token, unsealed."""
    schema = schemathesis.openapi.from_url(f"{server.address}/v1/openapi.json")

    def child_token():
        with server.client() as client:
            created = client.post("/v1/auth/token/create", json={"policies": ["root"]})
        return created.json()["auth"]["client_token"]

    # ignored_auth repeats a case without the token after it ran: after a seal that answers 503
    # (sealed comes first, as in Vault), so the refusal of an unauthenticated seal is checked
    # here directly instead.
    unauthenticated = httpx.post(f"{server.address}/v1/sys/seal")
    assert unauthenticated.status_code == 403, unauthenticated.text
    for method in ("POST", "PUT"):
        operation = schema["/v1/auth/token/revoke-self"][method]
        _ending_case_check(server, operation, child_token, lambda: None)
        operation = schema["/v1/sys/seal"][method]
        # Few cases: each costs an unseal, and sys/unseal allows ten in a burst, then one a second.
        seal = (lambda: server.root_token, server.unseal, [schemathesis.checks.ignored_auth], 5)
        _ending_case_check(server, operation, *seal)
    assert httpx.get(f"{server.address}/v1/sys/health").status_code == 200
