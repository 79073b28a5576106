"""What Vault's clients send that other HTTP clients do not: the ``LIST`` verb, JSON bodies
labelled anything, and the token in ``X-Vault-Token``."""

from starlette.datastructures import Headers
from starlette.types import Scope

__all__ = ["client_token", "token_of_scope", "vault_conventions"]

_RELABELLED = frozenset({b"application/x-www-form-urlencoded", b"text/plain"})


def vault_conventions(scope: Scope) -> Scope:
    """``LIST`` as ``GET ?list=true``, and a form, text or unlabelled body under ``/v1/``
    labelled JSON.

    Vault's CLI and many hvac methods send the literal LIST method (hvac's generic ``list()``
    sends ``GET ?list=True``), so routes know one listing form. ``curl -d '{...}'``, the form
    Vault's documentation uses, labels its data ``application/x-www-form-urlencoded``, which
    FastAPI would refuse. Multipart and other explicit types are left alone.
    """
    if scope["method"] == "LIST":
        query = scope.get("query_string", b"")
        scope = dict(
            scope, method="GET", query_string=(query + b"&" if query else b"") + b"list=true"
        )
    if scope.get("path", "").startswith("/v1/"):
        headers = scope.get("headers", [])
        for name, value in headers:
            if name == b"content-type":
                if value.split(b";", 1)[0].strip().lower() in _RELABELLED:
                    relabelled = [(k, v) for k, v in headers if k != b"content-type"]
                    relabelled.append((b"content-type", b"application/json"))
                    scope = dict(scope, headers=relabelled)
                break
        else:
            scope = dict(scope, headers=[*headers, (b"content-type", b"application/json")])
    return scope


def client_token(headers: Headers) -> str | None:
    """The server token: ``X-Vault-Token``, else ``Authorization: Bearer``; the first of a
    repeated header, always the same one for the guard and for the audit log."""
    token = headers.get("x-vault-token")
    if token:
        return token
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    # The scheme is no secret; compare_digest would also raise on non-ASCII header text.
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    return None


def token_of_scope(scope: Scope) -> str | None:
    return client_token(Headers(scope=scope))
