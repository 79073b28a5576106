"""Talking to a server from the CLI: one :class:`~trustee.client.Client`, made from the
environment like vault (``TRUSTEE_ADDR`` / ``TRUSTEE_TOKEN``, ``VAULT_*`` as fall-backs, both read
by the client), and the ways its typed errors become one line on stderr and an exit status.

Two wordings exist because the commands grew them and scripts may match them: the custody
commands print the server's message, the ledger commands and ``verify --server`` name the status
(``server answered 404: …``). Both read what the client's error carries; none looks at HTTP.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from trustee.cli.console import EXIT_ERROR, fail, usage_error
from trustee.client import Client, ConnectionFailed, default_address, default_token
from trustee.errors import PermissionDenied, TrusteeError
from trustee.tokens import TrustList

Describe = Callable[[TrusteeError], str]


def unreachable_line(error: ConnectionFailed, variable: str = "TRUSTEE_ADDR") -> str:
    """``cannot reach <address>: <why>``, and where to look (``variable`` named it)."""
    hint = (
        f"is a server listening there? ({variable} names it)"
        if error.reason in ("ConnectError", "ConnectTimeout")
        else f"check {variable}"
    )
    return f"cannot reach {error.address}: {error.reason}; {hint}"


def message_line(error: TrusteeError) -> str:
    """The error's own message, with a hint when a refusal may come from a missing token."""
    if isinstance(error, ConnectionFailed):
        return unreachable_line(error)
    missing_token = isinstance(error, PermissionDenied) and not default_token()
    return error.message + (" (set TRUSTEE_TOKEN)" if missing_token else "")


def status_line(error: TrusteeError, *, no_detail: str | None = None) -> str:
    """``server answered <status>: <the server's errors>``, or ``cannot reach <address>: <why>``.

    When the server gave no message the line ends in ``no_detail``, or in the status's reason
    phrase when that is None.
    """
    if isinstance(error, ConnectionFailed):
        return unreachable_line(error)
    detail = "; ".join(getattr(error, "errors", None) or []) or no_detail
    if not detail:
        try:
            detail = HTTPStatus(error.status).phrase
        except ValueError:
            detail = ""
    return f"server answered {error.status}: {detail}"


def address_variable() -> str:
    """Which variable names the server: the one the client reads."""
    return "TRUSTEE_ADDR" if os.environ.get("TRUSTEE_ADDR") else "VAULT_ADDR"


def check_address(address: str, variable: str | None = None) -> None:
    """Refuse, with the fix, the addresses that would fail obscurely: no scheme (httpx's
    ``UnsupportedProtocol``) or a ``/v1`` the client adds itself (every path a 404).
    ``variable`` names where the address came from (an option's ``--addr``)."""
    variable = variable or address_variable()
    parsed = urlsplit(address)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        guess = "http://" + address.split("://", 1)[-1].lstrip("/")
        usage_error(
            f"{variable}={address} is not an http:// or https:// URL; did you mean {guess}?"
        )
    path = parsed.path.rstrip("/")
    if path == "/v1" or path.endswith("/v1"):
        fixed = urlunsplit(parsed._replace(path=path[: -len("/v1")]))
        usage_error(f"{variable}={address} ends in /v1, which trustee adds itself; use {fixed}")


@contextmanager
def connected(
    error_code: int = EXIT_ERROR,
    *,
    describe: Describe = message_line,
    timeout: float = 10.0,
    address: str | None = None,
) -> Iterator[Client]:
    """A client for the configured server (or ``address``, an ``--addr`` option); any error
    it raises inside the block becomes one line (``describe``) and exit status
    ``error_code``."""
    check_address(address or default_address(), "--addr" if address else None)
    try:
        with Client(address, timeout=timeout) as client:
            yield client
    except TrusteeError as error:
        if address and isinstance(error, ConnectionFailed):
            fail(unreachable_line(error, "--addr"), error_code)
        fail(describe(error), error_code)


def remote_verify(
    token: str, *, trusted: TrustList | None, audience: str | None, leeway: float
) -> dict[str, Any]:
    """The server's verdict on ``token`` (``verify --server``); no server token is sent."""
    with connected(describe=status_line) as client:
        return client.verify_token(
            token,
            audience=audience,
            trusted=list(trusted) if trusted is not None else None,
            leeway=leeway,
        )
