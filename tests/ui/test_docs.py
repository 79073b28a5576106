"""The API docs page at ``/v1/docs``: Swagger UI from the server itself, under a strict policy.

In process: the page and Swagger UI's files answer with the right types and headers. In
Debian's chromium: the page renders the operations and tries one, asking nothing of any other
origin (the favicon included) and logging no error (a Content-Security-Policy violation is one).
"""

import base64
import hashlib
import re
import warnings

import pytest

from trustee.core import Core
from trustee.server.app import create_app
from trustee.server.faces.vault.docs import STATIC_URL

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ASSETS = {
    "swagger-ui-bundle.js": "javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    core, _ = Core.dev(root_token="root", folder=tmp_path_factory.mktemp("docs"))
    with TestClient(create_app(core)) as test_client:
        yield test_client
    core.close()


def test_docs_page_points_at_this_servers_files_only(client: TestClient) -> None:
    page = client.get("/v1/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert sorted(urls) == sorted(f"{STATIC_URL}/{name}" for name in ASSETS)
    assert "url: '/v1/openapi.json'" in page.text
    assert '"validatorUrl": null' in page.text  # no badge image from swagger.io
    assert "//" not in "".join(urls)
    assert client.head("/v1/docs").status_code == 200
    assert client.get("/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("name", ASSETS)
def test_swagger_ui_files_are_served_with_their_types(client: TestClient, name: str) -> None:
    response = client.get(f"{STATIC_URL}/{name}")
    assert response.status_code == 200
    assert ASSETS[name] in response.headers["content-type"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len(response.content) > 500
    assert client.head(f"{STATIC_URL}/{name}").status_code == 200


def test_only_swagger_ui_files_are_served(client: TestClient) -> None:
    for path in ("missing.js", "../__init__.py", "../main.py", "__init__.py", "", "x/"):
        assert client.get(f"{STATIC_URL}/{path}").status_code == 404, path


def test_docs_page_allows_its_own_start_up_script_and_nothing_else(client: TestClient) -> None:
    page = client.get("/v1/docs")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    for directive in ("style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    assert "unsafe" not in policy
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src "))
    assert script_src == f"script-src 'self' 'sha256-{digest}'"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"


def test_docs_render_offline_and_try_an_operation(page_factory, demo) -> None:
    """page_factory fails the test on any request to another origin or an uncaught error."""
    page = page_factory()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else 0)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    answered: dict[str, int] = {}
    page.on("response", lambda response: answered.__setitem__(response.url, response.status))

    page.goto("/v1/docs")
    verify = page.locator('.opblock-summary-path[data-path="/v1/trustee/verify"]').first
    verify.wait_for()
    assert page.locator(".opblock").count() > 20
    assert page.title() == "trustee - API docs"

    # "Try it out" on sys/health: the page's own requests are allowed too.
    health = page.locator(".opblock", has=page.locator('[data-path="/v1/sys/health"]'))
    health.first.locator(".opblock-summary").click()
    health.first.get_by_role("button", name="Try it out").click()
    health.first.get_by_role("button", name="Execute").click()
    health.first.locator(".live-responses-table tr.response .response-col_status").first.wait_for()
    assert (
        "200"
        in health.first.locator(
            ".live-responses-table tr.response .response-col_status"
        ).first.inner_text()
    )

    page.wait_for_load_state("networkidle")
    for name in ASSETS:
        assert answered.get(f"{demo.address}{STATIC_URL}/{name}") in (200, 304), answered
    assert answered.get(f"{demo.address}/v1/openapi.json") == 200
    assert answered.get(f"{demo.address}/v1/sys/health") == 200
    assert not failed, f"requests failed: {failed}"
    assert not console, f"console errors: {console}"
