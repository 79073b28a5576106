"""Errors that services raise and faces translate, each with one HTTP status.

Services never speak HTTP; the server maps these classes to statuses in one place, the CLI to
messages and exit codes. Messages are for users: they say what was wrong and never carry
secret material (keys, tokens, passphrases, unseal shares).
"""


class TrusteeError(Exception):
    """Base of every error a user can cause or see."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(TrusteeError):
    status = 400


class PermissionDenied(TrusteeError):
    status = 403


class NotFound(TrusteeError):
    status = 404


class AlreadyExists(TrusteeError):
    status = 409


class TooLarge(TrusteeError):
    status = 413


class RateLimited(TrusteeError):
    status = 429


class NotInitialized(TrusteeError):
    status = 501


class Sealed(TrusteeError):
    status = 503
