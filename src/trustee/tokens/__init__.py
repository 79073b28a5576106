"""Address-verifiable JWTs: issue as a trustee, verify from the token alone.

Recipients outside the server need only this package::

    from trustee.tokens import TrustList, verify_token

    trusted = TrustList(["0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"])
    result = verify_token(jwt, trusted=trusted, audience="rental-agency")
    if result.valid:
        ...  # result.address signed result.claims
"""

from trustee.tokens.issue import IssuedToken, TokenError, issue_token
from trustee.tokens.keycache import KeyCache
from trustee.tokens.reasons import Reason
from trustee.tokens.trust import TrustList
from trustee.tokens.verify import (
    DEFAULT_LEEWAY_SECONDS,
    LEGACY_ALGORITHM,
    VerificationResult,
    verify_token,
)

__all__ = [
    "DEFAULT_LEEWAY_SECONDS",
    "LEGACY_ALGORITHM",
    "IssuedToken",
    "KeyCache",
    "Reason",
    "TokenError",
    "TrustList",
    "VerificationResult",
    "issue_token",
    "verify_token",
]
