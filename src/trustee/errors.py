"""Errors that services raise and faces translate.

Each class names what went wrong, never how a protocol says it: the Vault face answers
:class:`NotFound` with 404 and ``{"errors": [...]}``, another face in its own shape, the CLI
with a message and an exit status. Services never speak HTTP. Messages are for users: they say
what was wrong and never carry secret material (keys, tokens, passphrases, unseal shares).
"""

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


class TrusteeError(Exception):
    """Base of every error a user can cause or see; one not named below is the server's fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(TrusteeError):
    """The request is malformed or asks for something out of range."""


class PermissionDenied(TrusteeError):
    """No credential, an unknown or expired one, or one whose policies deny."""


class Unauthenticated(PermissionDenied):
    """No credential, or one that names no one (unknown, expired, wrong secret): a face that
    tells this apart from a policy's denial (DataTrails: 401 vs 403) can; Vault's says 403."""


class NotFound(TrusteeError):
    """The object named does not exist."""


class AlreadyExists(TrusteeError):
    """The object to create exists already."""


class TooLarge(TrusteeError):
    """The input is over its size limit."""


class RateLimited(TrusteeError):
    """Too many attempts from one client; try again later."""


class NotInitialized(TrusteeError):
    """The server has not been initialised (``sys/init``)."""


class Sealed(TrusteeError):
    """The barrier is sealed: no secret can be used until it is unsealed."""


class StorageUnavailable(TrusteeError):
    """The database does not answer (down, restarting, unreachable): try again shortly.

    Nothing is known to have been written by the request that met it.
    """

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def nearest(error: Exception, table: "Mapping[type[TrusteeError], T]", default: T) -> T:
    """The entry of ``error``'s nearest class in a face's table (its own class, else the
    closest ancestor named there), or ``default``: how each face turns errors into statuses."""
    for kind in type(error).__mro__:
        if kind in table:
            return table[kind]
    return default
