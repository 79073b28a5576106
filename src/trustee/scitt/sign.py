"""Making signed statements: for the CLI, trustee's own identities and the tests."""

from __future__ import annotations

from typing import Any

from trustee.scitt.cose import HDR_ALG, HDR_CONTENT_TYPE, HDR_CWT_CLAIMS, HDR_KID, make_sign1
from trustee.scitt.keys import ES256K, CoseKey, sign
from trustee.scitt.statement import CNF_COSE_KEY, CWT_CNF, CWT_ISS, CWT_SUB

__all__ = ["sign_statement"]


def sign_statement(
    payload: bytes,
    private_key: Any,
    alg: int,
    *,
    content_type: str | None = None,
    issuer: str | None = None,
    subject: str | None = None,
    kid: bytes | None = None,
    public_key: CoseKey | None = None,
) -> bytes:
    """A tagged COSE_Sign1 statement over ``payload``.

    ``public_key`` goes in the CWT ``cnf`` claim so that any verifier finds the key in the
    statement; an ES256K statement may instead name its address in ``kid`` (or ``iss``) and
    leave the key to be recovered from the signature.
    """
    protected: dict[int, Any] = {HDR_ALG: alg}
    if content_type is not None:
        protected[HDR_CONTENT_TYPE] = content_type
    if kid is not None:
        protected[HDR_KID] = kid
    claims: dict[int, Any] = {}
    if issuer is not None:
        claims[CWT_ISS] = issuer
    if subject is not None:
        claims[CWT_SUB] = subject
    if public_key is not None:
        claims[CWT_CNF] = {CNF_COSE_KEY: public_key.to_map()}
    if claims:
        protected[HDR_CWT_CLAIMS] = claims
    if alg == ES256K and public_key is None and kid is None and issuer is None:
        raise ValueError("an ES256K statement names its key: public_key, kid or issuer")
    return make_sign1(protected, payload, lambda message: sign(alg, private_key, message))
