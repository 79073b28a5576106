"""Fixtures for the web explorer's browser tests: a real ``trustee server --dev`` holding the
demo's data, and Debian's chromium driven headless by Playwright (never a downloaded browser).

Screenshots go to ``test-artifacts/ui/`` at the repository root (ignored by git).
"""

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from live_server import LiveServer
from trustee.cli.demo import ASSET_ATTRIBUTES, AUDIENCE, SimulatedDevice, demo_events

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT_TOKEN = "ui-root-token-" + base64.b32encode(os.urandom(10)).decode().lower()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


@dataclass
class Demo:
    """What ``trustee demo`` creates, on a live server."""

    address: str
    root_token: str
    asset_uuid: str
    events: list[dict] = field(default_factory=list)
    alice: str = ""
    jwt: str = ""

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.address}/v1", headers={"X-Vault-Token": self.root_token}, timeout=10
        )


def _data(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def seed_demo(address: str, root_token: str) -> Demo:
    """One asset with the device's key, then a good, a hacked and a forged event; alice's JWT."""
    with httpx.Client(
        base_url=f"{address}/v1", headers={"X-Vault-Token": root_token}, timeout=10
    ) as client:
        alice = _data(client.post("/trustee/trustees/alice", json={}))
        jwt = _data(
            client.post(
                "/trustee/trustees/alice/claim",
                json={"audience": AUDIENCE, "claims": {"usage": ["knight_rider"]}, "ttl": "1h"},
            )
        )["jwt"]
        device = SimulatedDevice()
        asset = _data(
            client.post(
                "/ledger/assets",
                json={
                    "attributes": ASSET_ATTRIBUTES,
                    "device_key": {"alg": "ES256K", "public_key": device.public_key_hex},
                },
            )
        )
        events = [
            _data(client.post(f"/ledger/assets/{asset['uuid']}/events", json=body))
            for _, body, _ in demo_events(device)
        ]
    return Demo(address, root_token, asset["uuid"], events, alice["address"], jwt)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {ARTIFACTS}")
    return ARTIFACTS


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    log = tmp_path_factory.mktemp("ui-server") / "server.log"
    server = LiveServer("--dev", "--dev-root-token", ROOT_TOKEN, log_path=log)
    try:
        yield seed_demo(server.address, ROOT_TOKEN)
    finally:
        status = server.stop()
        text = server.log()
        assert status == 0, text
        # The root token travelled in headers only: no request line may show it. (Dev mode
        # prints it once at start-up, as `vault server -dev` does.)
        requests = [line for line in text.splitlines() if "HTTP/1.1" in line]
        assert requests, "the server logged no requests"
        assert not [line for line in requests if ROOT_TOKEN in line]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


class PageWatch:
    """Everything a page asked for and every uncaught script error, checked after each test."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def page_factory(browser, demo: Demo):
    """New pages in fresh contexts (fresh session storage); after the test, each page must have
    asked nothing of any origin but the server and thrown no uncaught error."""
    opened = []

    def open_page(width: int = 1200, height: int = 900, init_script: str | None = None):
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=demo.address
        )
        context.set_default_timeout(15_000)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.address)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        watch = PageWatch()
        page.on("request", lambda request: watch.requests.append(request.url))
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        opened.append((context, page, watch))
        return page

    yield open_page
    for context, _, watch in opened:
        context.close()
        foreign = [
            url
            for url in watch.requests
            if not url.startswith(demo.address + "/") and not url.startswith("data:")
        ]
        assert not foreign, f"requests left the server's origin: {foreign}"
        assert not any(demo.root_token in url for url in watch.requests), "token in a URL"
        assert not watch.errors, f"uncaught errors in the page: {watch.errors}"


@pytest.fixture
def signed_in(page_factory, demo: Demo):
    """A page holding the root token as the sign-in form leaves it, on the assets list. (The
    form itself is exercised by the tests about signing in.)"""

    def open_signed_in(**options):
        session = (
            f"sessionStorage.setItem('trustee.token', {json.dumps(demo.root_token)});"
            "sessionStorage.setItem('trustee.display_name', 'root');"
        )
        page = page_factory(init_script=session, **options)
        page.goto("/ui/#/assets")
        page.get_by_role("heading", name="Assets").wait_for()
        return page

    return open_signed_in
