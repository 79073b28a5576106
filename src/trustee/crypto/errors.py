"""The one error type the crypto layer raises for bad input."""


class CryptoError(ValueError):
    """Input that is not a valid key, signature, address or encoding.

    Messages name what was wrong and never include secret material.
    """
