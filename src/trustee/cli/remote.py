"""Talking to a server from the CLI: address and token from the environment, like vault."""

import os
from typing import Any

import httpx

from trustee.cli.console import fail
from trustee.tokens import TrustList

DEFAULT_ADDR = "http://127.0.0.1:8200"


def server_address() -> str:
    return (os.environ.get("TRUSTEE_ADDR") or os.environ.get("VAULT_ADDR") or DEFAULT_ADDR).rstrip(
        "/"
    )


def server_token() -> str | None:
    return os.environ.get("TRUSTEE_TOKEN") or os.environ.get("VAULT_TOKEN")


def remote_verify(
    token: str, *, trusted: TrustList | None, audience: str | None, leeway: float
) -> dict[str, Any]:
    body: dict[str, Any] = {"token": token, "leeway": leeway}
    if trusted is not None:
        body["trusted"] = list(trusted)
    if audience is not None:
        body["audience"] = audience
    try:
        response = httpx.post(f"{server_address()}/v1/trustee/verify", json=body, timeout=10)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server_address()}: {type(exc).__name__}")
    if response.status_code != 200:
        errors = response.json().get("errors", []) if response.content else []
        fail(
            f"server answered {response.status_code}: {'; '.join(errors) or response.reason_phrase}"
        )
    return response.json()["data"]
