"""Talking to a server from the CLI: one :class:`~trustee.client.Client`, made from the
environment like vault (``TRUSTEE_ADDR`` / ``TRUSTEE_TOKEN``, ``VAULT_*`` as fall-backs, both read
by the client), and the ways its typed errors become one line on stderr and an exit status.

Two wordings exist because the commands grew them and scripts may match them: the custody
commands print the server's message, the ledger commands and ``verify --server`` name the status
(``server answered 404: …``). Both read what the client's error carries; none looks at HTTP.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from trustee.cli.console import EXIT_USAGE, fail
from trustee.client import Client, ConnectionFailed, default_token
from trustee.errors import PermissionDenied, TrusteeError
from trustee.tokens import TrustList

Describe = Callable[[TrusteeError], str]


def message_line(error: TrusteeError) -> str:
    """The error's own message, with a hint when a refusal may come from a missing token."""
    missing_token = isinstance(error, PermissionDenied) and not default_token()
    return error.message + (" (set TRUSTEE_TOKEN)" if missing_token else "")


def status_line(error: TrusteeError, *, no_detail: str | None = None) -> str:
    """``server answered <status>: <the server's errors>``, or ``cannot reach <address>: <why>``.

    When the server gave no message the line ends in ``no_detail``, or in the status's reason
    phrase when that is None.
    """
    if isinstance(error, ConnectionFailed):
        return f"cannot reach {error.address}: {error.reason}"
    detail = "; ".join(getattr(error, "errors", None) or []) or no_detail
    if not detail:
        try:
            detail = HTTPStatus(error.status).phrase
        except ValueError:
            detail = ""
    return f"server answered {error.status}: {detail}"


@contextmanager
def connected(
    error_code: int = EXIT_USAGE, *, describe: Describe = message_line, timeout: float = 10.0
) -> Iterator[Client]:
    """A client for the configured server; any error it raises inside the block becomes one
    line (``describe``) and exit status ``error_code``."""
    try:
        with Client(timeout=timeout) as client:
            yield client
    except TrusteeError as error:
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
