"""Signing in to the explorer with a wallet (issue 18): Sign-In with Ethereum from the page, with
a fake EIP-1193 provider whose ``personal_sign`` the test answers with ``eth_account``, and by
pasting a signature when the browser has no wallet."""

import secrets
from urllib.parse import urlsplit

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import expect

pytestmark = pytest.mark.integration  # a live server; the browser fixture skips without chromium

FAKE_PROVIDER = """
(() => {
  const address = %r;
  const fromHex = (hex) =>
    new Uint8Array(hex.replace(/^0x/, "").match(/../g).map((b) => parseInt(b, 16)));
  window.ethereum = {
    async request({ method, params }) {
      if (method === "eth_requestAccounts") return [address];
      if (method === "eth_chainId") return "0x1";
      if (method === "personal_sign") {
        const [data, account] = params;
        const text = new TextDecoder().decode(fromHex(data));
        return await window.testPersonalSign(text, account);
      }
      throw Object.assign(new Error(`unsupported: ${method}`), { code: 4200 });
    },
  };
})();
"""


def make_role(demo, trusted: str) -> str:
    name = "wallets-" + secrets.token_hex(4)
    with demo.api() as client:
        answer = client.post(
            f"/auth/trustee/role/{name}",
            json={
                "bound_issuers": [trusted],
                "bound_domains": [urlsplit(demo.address).netloc],
                "bound_uris": [demo.address],
                "bound_chain_ids": [1],
                "token_policies": ["default"],
                "token_ttl": "15m",
            },
        )
    assert answer.status_code == 200, answer.text
    return name


def wallet_page(page_factory, wallet, signed: list):
    page = page_factory(init_script=FAKE_PROVIDER % wallet.address.lower())

    def personal_sign(text: str, account: str) -> str:
        assert account.lower() == wallet.address.lower()
        signed.append(text)
        signature = Account.sign_message(encode_defunct(text=text), wallet.key).signature
        return "0x" + signature.hex().removeprefix("0x")

    page.expose_function("testPersonalSign", personal_sign)
    page.goto("/ui/#/assets")
    return page


def test_a_wallet_signs_in_with_the_injected_provider(page_factory, demo, artifacts) -> None:
    wallet = Account.create()
    role = make_role(demo, wallet.address)
    signed: list[str] = []
    page = wallet_page(page_factory, wallet, signed)
    page.get_by_label("Role").fill(role)
    page.get_by_role("button", name="Sign in with a wallet").click()

    expect(page.get_by_role("heading", name="Assets")).to_be_visible()
    expect(page.locator("#who-name")).to_have_text(f"Signed in as siwe-{wallet.address}")
    token = page.evaluate("sessionStorage.getItem('trustee.token')")
    assert token and token not in page.url
    assert page.evaluate("localStorage.length") == 0
    # The message the wallet signed: this page's host and origin, the EIP-55 address.
    host = urlsplit(demo.address).netloc
    [text] = signed
    lines = text.split("\n")
    assert lines[0] == f"{host} wants you to sign in with your Ethereum account:"
    assert lines[1] == wallet.address  # checksummed, though the wallet answered lower case
    assert f"URI: {demo.address}" in lines
    assert "Version: 1" in lines and "Chain ID: 1" in lines
    with demo.api() as client:
        answer = client.get("/auth/token/lookup-self", headers={"X-Vault-Token": token})
    assert answer.json()["data"]["meta"]["address"] == wallet.address
    page.screenshot(path=artifacts / "wallet-signed-in.png", full_page=True)


def test_a_role_that_does_not_trust_the_wallet_refuses_it(page_factory, demo) -> None:
    wallet = Account.create()
    role = make_role(demo, Account.create().address)  # someone else's
    page = wallet_page(page_factory, wallet, [])
    page.get_by_label("Role").fill(role)
    page.get_by_role("button", name="Sign in with a wallet").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The server refused this wallet")
    expect(alert).to_contain_text("untrusted_issuer")
    assert page.evaluate("sessionStorage.getItem('trustee.token')") is None
    expect(page.get_by_role("button", name="Sign in with a wallet")).to_be_enabled()


def test_without_a_wallet_the_message_is_shown_and_a_signature_pasted(page_factory, demo) -> None:
    wallet = Account.create()
    role = make_role(demo, wallet.address)
    page = page_factory()
    page.goto("/ui/#/assets")
    page.get_by_label("Role").fill(role)
    page.get_by_label("Wallet address").fill(wallet.address.lower())
    page.get_by_role("button", name="Sign in with a wallet").click()
    box = page.get_by_label("Message to sign")
    expect(box).to_have_attribute("readonly", "")
    expect(box).not_to_have_value("")
    text = box.input_value()
    assert text.split("\n")[1] == wallet.address

    page.get_by_label("Signature (personal_sign)").fill("0x" + "00" * 65)
    page.get_by_role("button", name="Submit the signature").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid_signature")

    signature = Account.sign_message(encode_defunct(text=text), wallet.key).signature
    page.get_by_label("Signature (personal_sign)").fill("0x" + signature.hex().removeprefix("0x"))
    page.get_by_role("button", name="Submit the signature").click()
    expect(page.get_by_role("heading", name="Assets")).to_be_visible()
    expect(page.locator("#who-name")).to_have_text(f"Signed in as siwe-{wallet.address}")
