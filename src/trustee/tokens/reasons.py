"""The closed vocabulary of reasons a token is refused (docs/api.md §7)."""

from enum import StrEnum


class Reason(StrEnum):
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    BAD_SIGNATURE = "bad_signature"
    ISSUER_MISMATCH = "issuer_mismatch"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    AUDIENCE_MISMATCH = "audience_mismatch"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    REPLAYED = "replayed"
    TOO_LARGE = "too_large"
