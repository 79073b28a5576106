"""The web explorer in a real browser (issue 7): sign in, the demo's asset with its verdicts,
inclusion proofs and checkpoints verified in the page, the token checker and the trustees."""

import json
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.integration  # a live server; the browser fixture skips without chromium

GREEN = "rgb(26, 127, 55)"
RED = "rgb(207, 34, 46)"
NO_ED25519 = """
(() => {
  const original = SubtleCrypto.prototype.importKey;
  SubtleCrypto.prototype.importKey = function (format, data, algorithm, ...rest) {
    const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
    if (name === "Ed25519") {
      return Promise.reject(new DOMException("Ed25519 is not supported", "NotSupportedError"));
    }
    return original.call(this, format, data, algorithm, ...rest);
  };
})();
"""


def open_demo_asset(page):
    page.get_by_role("link", name="KITT").click()
    page.get_by_role("heading", name="KITT").wait_for()
    expect(page.locator(".counts")).to_have_text(re.compile(r"^3 events"))
    return page.locator(".timeline > li")


def test_sign_in_keeps_the_token_in_session_storage_only(page_factory, demo, artifacts) -> None:
    page = page_factory()
    page.goto("/ui")  # the redirect to /ui/
    expect(page).to_have_url(f"{demo.address}/ui/#/assets")
    page.get_by_label("Server token").fill("not-a-token")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The server refused this token")

    # Keyboard only: focus is on the field after the error; type and press Enter.
    page.keyboard.press("Control+A")
    page.keyboard.type(demo.root_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Assets")).to_be_visible()
    expect(page.locator("#who-name")).to_have_text("Signed in as root")
    assert page.evaluate("sessionStorage.getItem('trustee.token')") == demo.root_token
    assert page.evaluate("localStorage.length") == 0
    assert demo.root_token not in page.url
    card = page.locator(".asset-card", has_text="KITT")
    expect(card).to_contain_text("ES256K")
    expect(card).to_contain_text("arc_display_type")
    page.screenshot(path=artifacts / "assets.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Server token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('trustee.token')") is None


def test_demo_asset_shows_one_good_and_two_bad_events(signed_in, artifacts) -> None:
    page = signed_in()
    events = open_demo_asset(page)
    expect(events).to_have_count(3)
    good = page.locator(".badge[data-status='GOOD']")
    bad = page.locator(".badge[data-status='BAD']")
    expect(good).to_have_count(1)
    expect(bad).to_have_count(2)
    expect(good).to_have_text(re.compile("GOOD$"))
    assert good.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    assert {bad.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in (0, 1)} == {
        RED
    }
    # Who / what / when on each event; the reason on hover (title) and on expanding.
    expect(events.nth(0)).to_contain_text("Accepted from root")
    expect(events.nth(1)).to_contain_text("hacked (truncated signature)")
    expect(events.nth(2).locator(".event-when time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-")
    )
    expect(bad.nth(0)).to_have_attribute("title", "BAD: signature_wrong_length")
    expect(bad.nth(1)).to_have_attribute("title", "BAD: signature_mismatch")
    events.nth(2).get_by_text("Why, and details").click()
    expect(events.nth(2).locator("details")).to_contain_text("signature_mismatch")
    expect(events.nth(2).locator("details")).to_contain_text("the evidence was altered")
    page.screenshot(path=artifacts / "asset-events.png", full_page=True)


def test_inclusion_proof_is_verified_in_the_page_and_drawn(signed_in, demo, artifacts) -> None:
    page = signed_in()
    events = open_demo_asset(page)
    forged = events.nth(2)
    forged.get_by_text("Why, and details").click()
    forged.get_by_role("button", name=re.compile("Check inclusion in the log")).click()
    verdict = forged.locator(".proof .verdict")
    expect(verdict).to_have_attribute("data-verified", "true")
    expect(verdict).to_contain_text("Verified in this browser: leaf 2 is in the log of 3")
    checks = forged.locator(".checks li")
    expect(checks).to_have_count(3)
    expect(checks.nth(0)).to_contain_text("verified in this browser (WebCrypto Ed25519)")
    expect(checks.nth(1)).to_contain_text("Leaf 2 is this event")
    # The path up the tree of 3: leaf 2 rises past height 0, meets node(0,1), makes the root.
    levels = forged.locator(".tree-path > li")
    expect(levels).to_have_count(2)
    expect(levels.nth(0)).to_contain_text("root = signed root")
    expect(levels.nth(1).locator(".node")).to_have_count(2)
    expect(levels.nth(1).locator(".node-leaf")).to_contain_text("leaf 2")
    page.screenshot(path=artifacts / "inclusion-proof.png", full_page=True)


def test_a_tampered_proof_or_entry_is_not_verified(signed_in) -> None:
    page = signed_in()
    events = open_demo_asset(page)

    def flip_first_hash(route):
        response = route.fetch()
        body = response.json()
        first = body["data"]["hashes"][0]
        body["data"]["hashes"][0] = ("1" if first[0] != "1" else "2") + first[1:]
        route.fulfill(response=response, json=body)

    page.route("**/v1/ledger/log/proof/inclusion*", flip_first_hash)
    good = events.nth(0)
    good.get_by_text("Details").click()
    good.get_by_role("button", name=re.compile("Check inclusion")).click()
    verdict = good.locator(".proof .verdict")
    expect(verdict).to_have_attribute("data-verified", "false")
    expect(good.locator(".checks")).to_contain_text("the computed root differs")
    expect(good.locator(".node-wrong")).to_have_count(1)
    page.unroute("**/v1/ledger/log/proof/inclusion*")

    # The server hands back another leaf's bytes: the page notices it is not this event.
    def other_leaf(route):
        route.continue_(url=route.request.url.replace("start=1&end=2", "start=0&end=1"))

    page.route("**/v1/ledger/log/entries*", other_leaf)
    hacked = events.nth(1)
    hacked.get_by_text("Why, and details").click()
    hacked.get_by_role("button", name=re.compile("Check inclusion")).click()
    expect(hacked.locator(".proof .verdict")).to_have_attribute("data-verified", "false")
    expect(hacked.locator(".checks")).to_contain_text("holds a different record")


def test_checkpoint_signature_checked_in_browser_else_by_server(page_factory, demo) -> None:
    with demo.api() as api:
        root = api.get("/ledger/log/checkpoint").json()["data"]["root_hash"]

    def alter(route):
        """A checkpoint altered on its way: the size changed, the signature kept."""
        response = route.fetch()
        body = response.json()
        body["data"]["checkpoint"] = body["data"]["checkpoint"].replace("\n3\n", "\n4\n", 1)
        route.fulfill(response=response, json=body)

    for init_script, where, text in (
        (None, "browser", "verified in this browser (WebCrypto Ed25519)"),
        (NO_ED25519, "server", "verified by the server"),
    ):
        page = page_factory(init_script=init_script)
        page.goto("/ui/#/log")  # sign in, then land where the link pointed
        page.get_by_label("Server token").fill(demo.root_token)
        page.get_by_role("button", name="Sign in", exact=True).click()
        verdict = page.locator(".card .verdict")
        expect(verdict).to_have_attribute("data-verified", "true")
        expect(verdict).to_have_attribute("data-where", where)
        expect(verdict).to_contain_text(text)
        expect(page.locator("#checkpoint-root")).to_have_text(root)

        page.route("**/v1/ledger/log/checkpoint", alter)
        page.get_by_role("button", name="Verify the checkpoint").click()
        expect(verdict).to_have_attribute("data-verified", "false")
        expect(verdict).to_contain_text("NOT verified: invalid signature")
        page.unroute("**/v1/ledger/log/checkpoint")

    # A key the user pasted that is not the log's: the page says that key did not sign.
    page.get_by_label("Log verifier key").fill(
        "other.example/log+2a3b4c5d+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )
    page.get_by_role("button", name="Verify the checkpoint").click()
    expect(verdict).to_have_attribute("data-verified", "false")
    expect(verdict).to_contain_text("NOT verified")


def test_log_page_proves_any_leaf_and_refuses_bad_indexes(signed_in) -> None:
    page = signed_in()
    page.get_by_role("link", name="Log").click()
    expect(page.locator(".card .verdict")).to_have_attribute("data-verified", "true")
    page.get_by_label("Leaf index").fill("7")
    page.get_by_role("button", name="Check inclusion").click()
    expect(page.get_by_role("alert")).to_have_text("Enter a whole number from 0 to 2.")
    for index in (0, 1, 2):
        page.get_by_label("Leaf index").fill(str(index))
        page.get_by_role("button", name="Check inclusion").click()
        verdict = page.locator(".proof .verdict")
        expect(verdict).to_contain_text(f"leaf {index} is in the log of 3 entries")
        expect(verdict).to_have_attribute("data-verified", "true")


def test_token_checker_needs_no_sign_in(page_factory, demo, artifacts) -> None:
    page = page_factory()
    page.goto("/ui/#/token")
    page.get_by_label("JWT").fill(demo.jwt)
    page.get_by_label("Your audience (optional)").fill("rental-agency")
    page.get_by_label("Trusted addresses (optional)").fill(demo.alice)
    page.get_by_role("button", name="Check token").click()
    verdict = page.locator(".token-result .verdict")
    expect(verdict).to_have_text("VALID")
    result = page.locator(".token-result")
    expect(result).to_contain_text(demo.alice)
    expect(result).to_contain_text("Within its validity window")
    expect(result).to_contain_text('"alg": "ES256K"')
    expect(result).to_contain_text("knight_rider")
    expect(result.locator(".facts").first).to_contain_text("yes")
    assert page.evaluate("sessionStorage.length") == 0

    header, payload, signature = demo.jwt.split(".")
    tampered = f"{header}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    page.get_by_label("JWT").fill(tampered)
    page.get_by_role("button", name="Check token").click()
    expect(verdict).to_have_attribute("data-reason", "bad_signature")
    expect(verdict).to_have_text("INVALID: bad_signature")
    expect(result).to_contain_text("Claims (NOT verified)")
    expect(result).to_contain_text("none (no key was recovered)")
    page.screenshot(path=artifacts / "token-bad-signature.png", full_page=True)

    page.get_by_label("JWT").fill("this is not a token")
    page.get_by_role("button", name="Check token").click()
    expect(verdict).to_have_attribute("data-reason", "malformed")
    expect(result).to_contain_text("Cannot decode")

    page.get_by_label("JWT").fill("")
    page.get_by_role("button", name="Check token").click()
    expect(page.get_by_role("alert")).to_have_text("Paste a JWT first.")


def test_trustees_copy_address_and_claim_a_token(signed_in, demo, artifacts) -> None:
    page = signed_in()
    page.get_by_role("link", name="Trustees").click()
    row = page.locator("table.trustees tr", has_text="alice")
    expect(row).to_contain_text(demo.alice)
    row.get_by_role("button", name="Copy the address of alice").click()
    expect(row.get_by_role("button", name="Copy the address of alice")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == demo.alice

    page.get_by_label("Extra claims (optional JSON object)").fill("[1, 2]")
    page.get_by_role("button", name="Claim a token").click()
    expect(page.get_by_role("alert")).to_contain_text("must be a JSON object")

    page.get_by_label("Audience (optional)").fill("rental-agency")
    page.get_by_label("Extra claims (optional JSON object)").fill('{"usage": ["knight_rider"]}')
    page.get_by_role("button", name="Claim a token").click()
    jwt = page.locator("#claimed-jwt")
    expect(jwt).to_have_value(re.compile(r"^eyJ[\w-]+\.[\w-]+\.[\w-]+$"))
    page.screenshot(path=artifacts / "trustees.png", full_page=True)
    page.get_by_role("button", name="Open in the token checker").click()
    page.get_by_label("Your audience (optional)").fill("rental-agency")
    page.get_by_role("button", name="Check token").click()
    expect(page.locator(".token-result .verdict")).to_have_text("VALID")
    assert "eyJ" not in page.url


def test_a_caller_without_claim_rights_is_told_so(page_factory, demo) -> None:
    with demo.api() as api:
        policy = {
            "path": {
                "trustee/trustees/*": {"capabilities": ["read", "list"]},
                "ledger/*": {"capabilities": ["read", "list"]},
            }
        }
        response = api.post("/sys/policies/acl/ui-viewer", json={"policy": json.dumps(policy)})
        assert response.status_code in (200, 204), response.text
        created = api.post("/auth/token/create", json={"policies": ["ui-viewer"], "ttl": "10m"})
        assert created.status_code == 200, created.text
        token = created.json()["auth"]["client_token"]
    page = page_factory()
    page.goto("/ui/#/trustees")
    page.get_by_label("Server token").fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("table.trustees")).to_contain_text(demo.alice)
    page.get_by_role("button", name="Claim a token").click()
    expect(page.get_by_role("alert")).to_contain_text("Not allowed: permission denied")
    expect(page.locator("#claimed-jwt")).to_have_count(0)


def test_phone_width_and_keyboard(signed_in, artifacts) -> None:
    page = signed_in(width=390, height=844)
    events = open_demo_asset(page)
    expect(events).to_have_count(3)
    events.nth(1).get_by_text("Why, and details").click()
    events.nth(1).get_by_role("button", name=re.compile("Check inclusion")).click()
    expect(events.nth(1).locator(".proof .verdict")).to_have_attribute("data-verified", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=artifacts / "asset-phone.png", full_page=True)

    # Every section is reachable from the keyboard, and its heading takes the focus.
    page.goto("/ui/#/assets")
    page.reload()  # a fresh load leaves the focus at the top of the page
    page.get_by_role("heading", name="Assets").wait_for()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Log")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Transparency log")).to_be_focused()
    expect(page.get_by_role("link", name="Log")).to_have_attribute("aria-current", "page")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_revoked_token_sends_the_page_back_to_sign_in(page_factory, demo) -> None:
    with demo.api() as api:
        token = api.post("/auth/token/create", json={"ttl": "10m"}).json()["auth"]["client_token"]
    page = page_factory()
    page.goto("/ui/")
    page.get_by_label("Server token").fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    # Revoke only once the assets have loaded, so the click on "Log" is what meets it.
    expect(page.get_by_role("list", name="Assets").get_by_role("listitem").first).to_be_visible()
    revoked = demo.api()
    revoked.headers["X-Vault-Token"] = token
    assert revoked.post("/auth/token/revoke-self").status_code == 204
    revoked.close()
    page.get_by_role("link", name="Log").click()
    expect(page.get_by_role("alert")).to_contain_text("Signed out: permission denied")
    expect(page.get_by_label("Server token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('trustee.token')") is None
    # The reason stays in view while the reader moves around before signing in again.
    page.get_by_role("link", name="Trustees").click()
    expect(page.get_by_role("alert")).to_contain_text("Signed out: permission denied")
