"""The Vault face's one table of statuses: every domain error, its subclasses, and the rest."""

import pytest

from trustee.auth.login import LoginDenied, LoginError
from trustee.auth.policy import PolicyError
from trustee.custody.trustees import CorruptedKey
from trustee.errors import (
    AlreadyExists,
    InvalidRequest,
    NotFound,
    NotInitialized,
    PermissionDenied,
    RateLimited,
    Sealed,
    TooLarge,
    TrusteeError,
)
from trustee.server.faces.vault.envelope import status_of


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequest, 400),
        (PermissionDenied, 403),
        (NotFound, 404),
        (AlreadyExists, 409),
        (TooLarge, 413),
        (RateLimited, 429),
        (NotInitialized, 501),
        (Sealed, 503),
        (PolicyError, 400),
        (CorruptedKey, 500),
        (TrusteeError, 500),
    ],
)
def test_each_error_has_its_status(error, status) -> None:
    assert status_of(error("x")) == status


def test_subclasses_take_their_ancestors_status() -> None:
    assert status_of(LoginError("replayed", "")) == 400
    assert status_of(LoginDenied("root_policy", "")) == 403


def test_domain_errors_carry_no_status() -> None:
    assert not any(hasattr(kind, "status") for kind in (TrusteeError, NotFound, CorruptedKey))
