"""trustee: verify-then-trust.

Named secp256k1 identities whose address is an Ethereum address sign JWTs that anyone can
verify from the token alone; a signed-records ledger keeps device-signed events on a
transparency log. Offline recipients usually need only :func:`trustee.tokens.verify_token`.
"""

__version__ = "0.1.0"
