"""A Python client for a trustee server, mirroring its routes (docs/api.md §4–11).

>>> with Client("http://127.0.0.1:8200", token) as client:
...     client.create_trustee("alice")
...     jwt = client.claim("alice", audience="bob")["jwt"]
...     client.verify_token(jwt, audience="bob")["valid"]

It is the only HTTP client of the package: the ``trustee`` command line talks to servers through
it, so the address and token defaults and the status-to-error map below exist once.

Errors come back as the classes of :mod:`trustee.errors`, chosen by HTTP status and carrying
the server's messages; a server that cannot be reached raises :class:`ConnectionFailed`. The
token never appears in a ``repr`` or an error message.
"""

from __future__ import annotations  # a method is named ``list``

import base64
import json
import os
import time
from typing import Any
from urllib.parse import quote

import httpx

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

__all__ = [
    "DEFAULT_ADDRESS",
    "AlreadyExists",
    "Client",
    "ConnectionFailed",
    "InvalidRequest",
    "NotFound",
    "NotInitialized",
    "PermissionDenied",
    "RateLimited",
    "Sealed",
    "TooLarge",
    "TrusteeError",
]

DEFAULT_ADDRESS = "http://127.0.0.1:8200"

_ERRORS_BY_STATUS: dict[int, type[TrusteeError]] = {
    400: InvalidRequest,
    403: PermissionDenied,
    404: NotFound,
    409: AlreadyExists,
    413: TooLarge,
    429: RateLimited,
    501: NotInitialized,
    503: Sealed,
}


class ConnectionFailed(TrusteeError):
    """The server could not be reached (refused, timed out, bad address).

    ``address`` and ``reason`` (the transport error's class name) are kept apart from the
    message so a caller can word the failure its own way, as the command line does.
    """

    status = 0

    def __init__(self, message: str, *, address: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.address = address
        self.reason = reason
        self.errors: list[str] = []


def _unreachable(address: str, exc: httpx.HTTPError) -> ConnectionFailed:
    reason = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return ConnectionFailed(f"{address} timed out ({reason})", address=address, reason=reason)
    return ConnectionFailed(f"cannot reach {address} ({reason})", address=address, reason=reason)


def default_address() -> str:
    """``TRUSTEE_ADDR``, else ``VAULT_ADDR`` (so a vault user's shell works), else loopback."""
    return os.environ.get("TRUSTEE_ADDR") or os.environ.get("VAULT_ADDR") or DEFAULT_ADDRESS


def default_token() -> str | None:
    """``TRUSTEE_TOKEN``, else ``VAULT_TOKEN``; None when neither is set or both are empty."""
    return os.environ.get("TRUSTEE_TOKEN") or os.environ.get("VAULT_TOKEN")


def error_for(response: httpx.Response) -> TrusteeError:
    """The typed error for a failed answer, with the server's messages joined.

    Every error the client raises for an answer carries ``status`` (the HTTP status) and
    ``errors`` (the server's messages): the statuses live here, not in the domain errors.
    """
    messages: list[str] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        messages = [str(message) for message in body["errors"]]
    message = "; ".join(messages) or f"server answered {response.status_code}"
    kind = _ERRORS_BY_STATUS.get(response.status_code, TrusteeError)
    return _answered(kind(message), response.status_code, messages)


def _answered(error: TrusteeError, status: int, messages: list[str]) -> TrusteeError:
    error.status = status  # type: ignore[attr-defined]
    error.errors = messages  # type: ignore[attr-defined]
    return error


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _quote(segment: str) -> str:
    """One path segment, percent-encoded (a ``/`` in a name cannot reach another route)."""
    return quote(segment, safe="")


def _ledger_id(identity: str) -> str:
    """An asset or event uuid as one path segment. The identities the ledger answers
    (``assets/<uuid>``, ``assets/<uuid>/events/<uuid>``) are taken too, so a record's
    ``identity`` can be passed straight back; ``/`` or ``..`` cannot reach another route."""
    return _quote(identity.removeprefix("assets/").rsplit("/events/", 1)[-1])


def _present(**values: Any) -> dict[str, Any]:
    """The given keyword arguments without those that are None: what goes into a body or query
    when an option was left to the server's default."""
    return {key: value for key, value in values.items() if value is not None}


class Client:
    """One server, one token, one connection pool. Use as a context manager or ``close()``."""

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        """``http`` lends the client an httpx client of the caller's, such as Starlette's
        ``TestClient`` for an application in this process (``trustee demo``): its base URL is
        the address, and closing it stays with the caller."""
        if http is not None:
            self.address = str(http.base_url).rstrip("/")
            self._http = http
        else:
            self.address = (address or default_address()).rstrip("/")
            self._http = httpx.Client(base_url=self.address, timeout=timeout, transport=transport)
        self._owns_http = http is None
        self._token = token if token is not None else default_token()

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        return self._token

    @token.setter
    def token(self, value: str | None) -> None:
        self._token = value

    def __repr__(self) -> str:
        return f"Client(address={self.address!r}, token={'set' if self._token else 'unset'})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        authenticated: bool = True,
        idempotency_key: str | None = None,
    ) -> dict[str, Any] | None:
        """Send one request to ``/v1/<path>``; the decoded answer, or None for 204."""
        headers = {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if authenticated and self._token:
            headers["X-Vault-Token"] = self._token
        url = "/v1/" + path.lstrip("/")
        try:
            response = self._http.request(method, url, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise _unreachable(self.address, exc) from None
        if response.status_code >= 400:
            raise error_for(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            message = f"server answered {response.status_code} with non-JSON"
            raise _answered(TrusteeError(message), response.status_code, []) from None

    def _data(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        answer = self.request(method, path, **options)
        return (answer or {}).get("data") or {}

    def _auth(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        answer = self.request(method, path, **options)
        return (answer or {}).get("auth") or {}

    # -- generic, like hvac ---------------------------------------------------------------

    def read(self, path: str) -> dict[str, Any] | None:
        """The whole answer of ``GET path``, or None when the path holds nothing (404)."""
        try:
            return self.request("GET", path)
        except NotFound:
            return None

    def write(self, path: str, **data: Any) -> dict[str, Any] | None:
        return self.request("POST", path, json=data)

    def list(self, path: str) -> dict[str, Any] | None:
        """The whole answer of ``LIST path`` (Vault's verb), or None when empty (404)."""
        try:
            return self.request("LIST", path)
        except NotFound:
            return None

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    # -- sys -----------------------------------------------------------------------------------

    def init(self, shares: int = 5, threshold: int = 3) -> dict[str, Any]:
        """``keys`` (hex unseal shares) and ``root_token``: shown this one time only."""
        answer = self.request(
            "POST",
            "sys/init",
            json={"secret_shares": shares, "secret_threshold": threshold},
            authenticated=False,
        )
        return answer or {}

    def unseal(self, key: str | None = None, *, reset: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"reset": True} if reset else {"key": key}
        return self.request("POST", "sys/unseal", json=body, authenticated=False) or {}

    def seal(self) -> None:
        self.request("POST", "sys/seal")

    def seal_status(self) -> dict[str, Any]:
        return self.request("GET", "sys/seal-status", authenticated=False) or {}

    def health(self) -> dict[str, Any]:
        """Vault's health answer, whatever its status (200 active, 501, 503)."""
        try:
            response = self._http.get("/v1/sys/health")
        except httpx.HTTPError as exc:
            raise _unreachable(self.address, exc) from None
        try:
            body = response.json()
        except ValueError:
            raise error_for(response) from None
        if response.status_code not in (200, 429, 472, 473, 501, 503):
            raise error_for(response)
        return body

    # -- server tokens -------------------------------------------------------------------------

    def create_token(
        self,
        policies: list[str] | None = None,
        ttl: str | int | None = None,
        *,
        renewable: bool = True,
        explicit_max_ttl: str | int | None = None,
        display_name: str | None = None,
        meta: dict[str, str] | None = None,
        no_parent: bool = False,
    ) -> dict[str, Any]:
        """Vault's ``auth`` block: ``client_token``, ``accessor``, ``policies``, ..."""
        body: dict[str, Any] = {"renewable": renewable, "no_parent": no_parent}
        for key, value in (
            ("policies", policies),
            ("ttl", ttl),
            ("explicit_max_ttl", explicit_max_ttl),
            ("display_name", display_name),
            ("meta", meta),
        ):
            if value is not None:
                body[key] = value
        return self._auth("POST", "auth/token/create", json=body)

    def lookup_self(self) -> dict[str, Any]:
        return self._data("GET", "auth/token/lookup-self")

    def renew_self(self, increment: str | int | None = None) -> dict[str, Any]:
        body = {"increment": increment} if increment is not None else {}
        return self._auth("POST", "auth/token/renew-self", json=body)

    def revoke_self(self) -> None:
        self.request("POST", "auth/token/revoke-self")

    def login(self, role: str, jwt: str) -> dict[str, Any]:
        """Delegated login with a trustee JWT: the ``auth`` block (``client_token``, ...).

        The new token is not adopted; set ``client.token`` to use it.
        """
        return self._auth(
            "POST", "auth/trustee/login", json={"role": role, "jwt": jwt}, authenticated=False
        )

    def siwe_nonce(self, role: str) -> dict[str, Any]:
        """A single-use nonce for a Sign-In with Ethereum message on ``role`` (no token)."""
        return self._data(
            "POST", "auth/trustee/siwe/nonce", json={"role": role}, authenticated=False
        )

    def siwe_login(self, role: str, message: str, signature: str) -> dict[str, Any]:
        """Sign-In with Ethereum: an EIP-4361 message and its ``personal_sign`` signature, for
        the ``auth`` block, as :meth:`login`. The new token is not adopted."""
        body = {"role": role, "message": message, "signature": signature}
        return self._auth("POST", "auth/trustee/siwe/login", json=body, authenticated=False)

    # -- trustees ------------------------------------------------------------------------------

    def create_trustee(self, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"metadata": metadata} if metadata is not None else {}
        return self._data("POST", f"trustee/trustees/{_quote(name)}", json=body)

    def read_trustee(self, name: str) -> dict[str, Any]:
        return self._data("GET", f"trustee/trustees/{_quote(name)}")

    def list_trustees(self) -> list[str]:
        return self._keys("trustee/trustees")

    def delete_trustee(self, name: str) -> None:
        self.request("DELETE", f"trustee/trustees/{_quote(name)}")

    def import_keystore(
        self,
        name: str,
        keystore: dict[str, Any] | str,
        passphrase: str,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"keystore": keystore, "passphrase": passphrase}
        if metadata is not None:
            body["metadata"] = metadata
        return self._data("POST", f"trustee/import/{_quote(name)}", json=body)

    def import_private_key(
        self, name: str, private_key: str, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"private_key": private_key}
        if metadata is not None:
            body["metadata"] = metadata
        return self._data("POST", f"trustee/import/{_quote(name)}", json=body)

    def export_keystore(self, name: str, passphrase: str) -> dict[str, Any]:
        """The V3 keystore (scrypt) of ``name``, encrypted under ``passphrase``; needs sudo."""
        data = self._data(
            "POST", f"trustee/trustees/{_quote(name)}/export", json={"passphrase": passphrase}
        )
        return data.get("keystore") or {}

    def claim(
        self,
        name: str,
        claims: dict[str, Any] | None = None,
        subject: str | None = None,
        audience: str | list[str] | None = None,
        ttl: str | int | None = None,
        not_before: int | None = None,
        legacy_eth_claim: bool = False,
        encrypt_for: str | None = None,
        issuer_format: str | None = None,
    ) -> dict[str, Any]:
        """A JWT signed by ``name``: ``{"jwt": ..., "claims": <the full payload>}``.

        With ``encrypt_for`` (a registered audience) each claim value is encrypted to that
        audience's key; ``issuer_format="did:ethr"`` names the issuer ``did:ethr:0x…``.
        """
        body: dict[str, Any] = {"legacy_eth_claim": legacy_eth_claim}
        for key, value in (
            ("claims", claims),
            ("subject", subject),
            ("audience", audience),
            ("ttl", ttl),
            ("not_before", not_before),
            ("encrypt_for", encrypt_for),
            ("issuer_format", issuer_format),
        ):
            if value is not None:
                body[key] = value
        return self._data("POST", f"trustee/trustees/{_quote(name)}/claim", json=body)

    def sign(
        self,
        name: str,
        data: str | dict[str, Any],
        encoding: str = "utf8",
        scheme: str = "eip191",
    ) -> dict[str, Any]:
        """``signature`` (0x, 65 bytes, v 27/28), ``hash`` and ``address``."""
        return self._data(
            "POST",
            f"trustee/trustees/{_quote(name)}/sign",
            json={"data": data, "encoding": encoding, "scheme": scheme},
        )

    def sign_statement(
        self,
        name: str,
        payload: bytes,
        *,
        content_type: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
    ) -> bytes:
        """A SCITT signed statement by trustee ``name`` over ``payload`` (``sign`` with scheme
        ``cose``): COSE_Sign1, ES256K, ``kid`` = its address, ``iss`` = its address unless
        ``issuer`` is given. Ready for :meth:`register_statement`."""
        body = {
            "data": base64.b64encode(payload).decode("ascii"),
            "encoding": "base64",
            "scheme": "cose",
            **_present(content_type=content_type, issuer=issuer, subject=subject),
        }
        data = self._data("POST", f"trustee/trustees/{_quote(name)}/sign", json=body)
        try:
            return base64.b64decode(data["statement"], validate=True)
        except (KeyError, TypeError, ValueError):
            raise TrusteeError("the server answered no statement") from None

    def verify_signature(
        self,
        address: str | None = None,
        name: str | None = None,
        *,
        data: str | dict[str, Any],
        signature: str,
        encoding: str = "utf8",
        scheme: str = "eip191",
    ) -> dict[str, Any]:
        """``verified``, ``address``, ``recovered``: by address, or by a trustee's name."""
        if (address is None) == (name is None):
            raise InvalidRequest("give address or name, not both")
        path = (
            f"trustee/addresses/{_quote(address)}/verify"
            if address is not None
            else f"trustee/names/{_quote(name or '')}/verify"
        )
        body = {"data": data, "signature": signature, "encoding": encoding, "scheme": scheme}
        return self._data("POST", path, json=body)

    def read_address(self, address: str) -> dict[str, Any]:
        """``address``, ``names``, ``public_key`` and ``jwk`` of a trustee address."""
        return self._data("GET", f"trustee/addresses/{_quote(address)}")

    def list_addresses(self) -> list[str]:
        return self._keys("trustee/addresses")

    def verify_token(
        self,
        token: str,
        audience: str | None = None,
        trusted: list[str] | None = None,
        trust_list: str | None = None,
        leeway: float | None = None,
    ) -> dict[str, Any]:
        """The server's verdict on a JWT (docs/api.md §7); no server token is sent or needed."""
        body: dict[str, Any] = {"token": token}
        for key, value in (
            ("audience", audience),
            ("trusted", trusted),
            ("trust_list", trust_list),
            ("leeway", leeway),
        ):
            if value is not None:
                body[key] = value
        return self._data("POST", "trustee/verify", json=body, authenticated=False)

    # -- delegated authentication: policies, trust lists, roles, audiences, JWKS -----------

    def _keys(self, path: str) -> list[str]:
        """The ``keys`` of ``LIST path``. Vault answers an empty listing 404 with no message,
        so that is ``[]``; a 404 that says something (``unsupported path``, a wrong address)
        is raised like any other."""
        try:
            return list(self._data("LIST", path).get("keys", []))
        except NotFound as error:
            if getattr(error, "errors", None):
                raise
            return []

    def write_policy(self, name: str, policy: str | dict[str, Any]) -> None:
        """Create or replace an ACL policy: HCL text, JSON text, or the JSON form as a dict."""
        text = policy if isinstance(policy, str) else _json_text(policy)
        self.request("POST", f"sys/policies/acl/{_quote(name)}", json={"policy": text})

    def read_policy(self, name: str) -> str:
        """The policy's text as written."""
        return str(self._data("GET", f"sys/policies/acl/{_quote(name)}").get("policy", ""))

    def list_policies(self) -> list[str]:
        return self._keys("sys/policies/acl")

    def delete_policy(self, name: str) -> None:
        self.request("DELETE", f"sys/policies/acl/{_quote(name)}")

    def write_trust_list(self, name: str, addresses: list[str]) -> list[str]:
        """Create or replace a trust list; answers its addresses in EIP-55 form."""
        data = self._data(
            "POST", f"trustee/trust-lists/{_quote(name)}", json={"addresses": list(addresses)}
        )
        return list(data.get("addresses", []))

    def read_trust_list(self, name: str) -> list[str]:
        data = self._data("GET", f"trustee/trust-lists/{_quote(name)}")
        return list(data.get("addresses", []))

    def list_trust_lists(self) -> list[str]:
        return self._keys("trustee/trust-lists")

    def delete_trust_list(self, name: str) -> None:
        self.request("DELETE", f"trustee/trust-lists/{_quote(name)}")

    def write_role(self, name: str, **settings: Any) -> dict[str, Any]:
        """Create or replace a login role (docs/api.md §8); answers the stored settings."""
        return self._data("POST", f"auth/trustee/role/{_quote(name)}", json=settings)

    def read_role(self, name: str) -> dict[str, Any]:
        return self._data("GET", f"auth/trustee/role/{_quote(name)}")

    def list_roles(self) -> list[str]:
        return self._keys("auth/trustee/role")

    def delete_role(self, name: str) -> None:
        self.request("DELETE", f"auth/trustee/role/{_quote(name)}")

    def register_audience(self, name: str, token: str) -> dict[str, Any]:
        """Record another party from a JWT it signed: ``address`` and ``public_key``."""
        return self._data("POST", f"trustee/audiences/{_quote(name)}", json={"token": token})

    def read_audience(self, name: str) -> dict[str, Any]:
        return self._data("GET", f"trustee/audiences/{_quote(name)}")

    def list_audiences(self) -> list[str]:
        return self._keys("trustee/audiences")

    def delete_audience(self, name: str) -> None:
        self.request("DELETE", f"trustee/audiences/{_quote(name)}")

    def encrypt(
        self, name: str, plaintext: bytes | str, audience: str | None = None
    ) -> dict[str, Any]:
        """``ciphertext`` (``trustee:v1:…``) and ``recipient``: to ``audience``'s key when
        named, else to the trustee's own."""
        raw = plaintext.encode("utf-8") if isinstance(plaintext, str) else bytes(plaintext)
        body: dict[str, Any] = {"plaintext": base64.b64encode(raw).decode("ascii")}
        if audience is not None:
            body["audience"] = audience
        return self._data("POST", f"trustee/trustees/{_quote(name)}/encrypt", json=body)

    def decrypt(self, name: str, ciphertext: str) -> bytes:
        """The plaintext of a ``trustee:v1:`` ciphertext made for trustee ``name``."""
        data = self._data(
            "POST", f"trustee/trustees/{_quote(name)}/decrypt", json={"ciphertext": ciphertext}
        )
        return base64.b64decode(data.get("plaintext", ""))

    def decrypt_claims(self, name: str, claims: dict[str, Any]) -> dict[str, Any]:
        """Claims encrypted for trustee ``name`` (a whole JWT payload works), in clear."""
        data = self._data(
            "POST", f"trustee/trustees/{_quote(name)}/decrypt", json={"claims": claims}
        )
        return dict(data.get("claims") or {})

    def jwks(self) -> dict[str, Any]:
        """The JWK set of every live trustee (``/v1/trustee/jwks``); no token needed."""
        answer = self.request("GET", "trustee/jwks", authenticated=False) or {}
        return {"keys": list(answer.get("keys", []))}

    # -- ledger: assets, device-signed events, the transparency log (docs/api.md §9) -----------
    #
    # Asset and event arguments take a bare uuid or the ``identity`` a record carries. The
    # answers are the server's ``data`` as sent: records with their ``identity``, verdicts with
    # ``status`` and ``reason``, pages with ``next_page_token`` (None on the last page).

    def create_asset(
        self,
        attributes: dict[str, Any] | None = None,
        device_key: dict[str, Any] | None = None,
        *,
        require_signature: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A new asset. ``device_key`` is ``{"alg": "ES256K"|"EdDSA"|"ES256", "public_key": …}``
        (hex, PEM, JWK or address); with ``require_signature`` the ledger refuses events whose
        evidence that key did not sign, instead of recording them with a BAD verdict. Retrying
        with the same ``idempotency_key`` (and the same arguments) answers the same asset."""
        body: dict[str, Any] = {
            "attributes": dict(attributes or {}),
            "require_signature": require_signature,
        }
        if device_key is not None:
            body["device_key"] = device_key
        return self._data("POST", "ledger/assets", json=body, idempotency_key=idempotency_key)

    def list_assets(
        self, page_size: int | None = None, page_token: str | None = None
    ) -> dict[str, Any]:
        """One page: ``keys`` (asset uuids) and ``next_page_token`` for the page after it."""
        params = {"list": "true", **_present(page_size=page_size, next_page_token=page_token)}
        return self._data("GET", "ledger/assets", params=params)

    def read_asset(self, asset: str) -> dict[str, Any]:
        """Attributes, the current device key and the history of earlier keys."""
        return self._data("GET", f"ledger/assets/{_ledger_id(asset)}")

    def rotate_device_key(self, asset: str, device_key: dict[str, Any]) -> dict[str, Any]:
        """Give the asset a new device key from the next log index on. Earlier keys stay in its
        history, so events signed before the rotation keep verifying GOOD."""
        return self._data(
            "POST", f"ledger/assets/{_ledger_id(asset)}/keys", json={"device_key": device_key}
        )

    def verify_asset(self, asset: str) -> dict[str, Any]:
        """A verdict for each of the asset's events (``events``, each with ``status``)."""
        return self._data("GET", f"ledger/assets/{_ledger_id(asset)}/verify")

    def bundle(self, asset: str, older_size: int | None = None) -> dict[str, Any]:
        """Everything an offline auditor needs about one asset (``trustee ledger audit``):
        its events, their inclusion proofs, the signed checkpoint, and with ``older_size`` a
        consistency proof from that earlier tree size."""
        params = _present(older_size=older_size) or None
        return self._data("GET", f"ledger/assets/{_ledger_id(asset)}/bundle", params=params)

    def post_event(
        self,
        asset: str,
        event_attributes: dict[str, Any] | None = None,
        *,
        operation: str = "Record",
        behaviour: str = "RecordEvidence",
        asset_attributes: dict[str, Any] | None = None,
        timestamp_declared: str | None = None,
        principal_declared: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Append an event; the record answered carries its ``log_index``.

        The device signs ``arc_evidence`` itself and sends the signature as
        ``arc_evidence_signature``: this only carries both, the server never signs for it.
        Give an ``idempotency_key`` (any fresh string, e.g. a UUID) and retry with it after a
        timeout or a 5xx: the ledger answers the event it already appended, never a second.
        """
        body: dict[str, Any] = {
            "operation": operation,
            "behaviour": behaviour,
            "event_attributes": dict(event_attributes or {}),
        }
        body |= _present(
            asset_attributes=asset_attributes,
            timestamp_declared=timestamp_declared,
            principal_declared=principal_declared,
        )
        path = f"ledger/assets/{_ledger_id(asset)}/events"
        return self._data("POST", path, json=body, idempotency_key=idempotency_key)

    def list_events(
        self,
        asset: str = "-",
        *,
        event_attributes: dict[str, str] | None = None,
        asset_attributes: dict[str, str] | None = None,
        operation: str | None = None,
        behaviour: str | None = None,
        since: str | None = None,
        before: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of events in log order: ``events`` and ``next_page_token``.

        ``asset`` ``"-"`` means every asset. Attribute filters match exact string values;
        ``since`` and ``before`` bound the time accepted (RFC 3339 or unix seconds).
        """
        params: dict[str, Any] = _present(
            operation=operation,
            behaviour=behaviour,
            since=since,
            before=before,
            page_size=page_size,
            next_page_token=page_token,
        )
        for prefix, filters in (
            ("event_attributes", event_attributes),
            ("asset_attributes", asset_attributes),
        ):
            params |= {f"{prefix}.{name}": value for name, value in (filters or {}).items()}
        return self._data("GET", f"ledger/assets/{_ledger_id(asset)}/events", params=params)

    def read_event(self, event: str) -> dict[str, Any]:
        return self._data("GET", f"ledger/events/{_ledger_id(event)}")

    def verify_event(self, event: str) -> dict[str, Any]:
        """``status`` (GOOD, BAD, UNSIGNED or NO_KEY) and ``reason``: the device signature
        checked against the key the asset had at the event's log index."""
        return self._data("GET", f"ledger/events/{_ledger_id(event)}/verify")

    def checkpoint(self) -> dict[str, Any]:
        """The log's current signed checkpoint: ``checkpoint`` (the C2SP note, the text
        auditors keep), and as read from it ``size``, ``root_hash`` (hex) and ``origin``."""
        return self._data("GET", "ledger/log/checkpoint")

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        """The audit path (``hashes``, hex) of leaf ``index`` in the tree of ``size`` leaves,
        the current tree when None (RFC 9162 §2.1.3)."""
        params = {"index": index, **_present(size=size)}
        return self._data("GET", "ledger/log/proof/inclusion", params=params)

    def consistency_proof(self, first: int, second: int | None = None) -> dict[str, Any]:
        """The proof (``hashes``, hex) that the tree of ``first`` leaves is a prefix of the tree
        of ``second``, the current tree when None (RFC 9162 §2.1.4)."""
        params = {"first": first, **_present(second=second)}
        return self._data("GET", "ledger/log/proof/consistency", params=params)

    def log_entries(self, start: int, end: int) -> list[bytes]:
        """The log's leaves ``start`` up to ``end`` (exclusive) as their exact bytes: hash one
        with ``merkle.leaf_hash`` to check it against an inclusion proof. The server answers
        at most its page limit of leaves per call, so a long range may come back short."""
        data = self._data("GET", "ledger/log/entries", params={"start": start, "end": end})
        return [base64.b64decode(entry) for entry in data.get("entries", [])]

    def log_public_key(self) -> dict[str, Any]:
        """``key``, the log's verifier key (``name+id+base64``, what auditors pass as
        ``--log-key``), and ``origin``, the first line of its checkpoints."""
        return self._data("GET", "ledger/log/public-key")

    # -- SCITT: SCRAPI at the server root, CBOR in and out (docs/api.md §11) -------------------
    #
    # Problem details (``{-1: title, -2: detail}``) become the same typed errors as the /v1
    # answers, the detail as the message (it starts with the reason: ``bad_signature: …``).

    def register_statement(self, statement: bytes) -> str:
        """Register a signed statement (``POST /entries``); the entry id (``<size>.<index>``)
        from the ``303`` answer's ``Location``."""
        response = self._scrapi("POST", "/entries", content=statement)
        location = response.headers.get("location", "")
        entry_id = location.rsplit("/", 1)[-1]
        if response.status_code not in (201, 202, 303) or not location.startswith("/entries/"):
            message = f"server answered {response.status_code} without an entry's location"
            raise _answered(TrusteeError(message), response.status_code, [])
        return entry_id

    def receipt(self, entry_id: str, *, polls: int = 10) -> bytes:
        """The receipt (RFC 9942) of a registered statement; a ``302`` (not final yet) is asked
        again after its ``Retry-After`` (at most 5 s each), up to ``polls`` times."""
        for _ in range(max(polls, 1)):
            response = self._scrapi("GET", f"/entries/{_quote(entry_id)}")
            if response.status_code != 302:
                return response.content
            time.sleep(min(_seconds(response.headers.get("retry-after")), 5.0))
        raise _answered(TrusteeError(f"entry {entry_id} is not final yet"), 302, [])

    def transparent_statement(self, entry_id: str) -> bytes:
        """The registered statement with its receipt in unprotected label 394."""
        return self._scrapi("GET", f"/entries/{_quote(entry_id)}/statement").content

    def scitt_keys(self) -> bytes:
        """The receipt keys as a COSE Key Set (``/.well-known/scitt-keys``), CBOR as served;
        :func:`trustee.scitt.parse_key_set` reads it."""
        return self._scrapi("GET", "/.well-known/scitt-keys").content

    def _scrapi(self, method: str, path: str, *, content: bytes | None = None) -> httpx.Response:
        headers = {"Accept": "application/cose, application/cbor"}
        if content is not None:
            headers["Content-Type"] = "application/cose"
        if self._token:
            headers["X-Vault-Token"] = self._token
        try:
            response = self._http.request(
                method, path, content=content, headers=headers, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise _unreachable(self.address, exc) from None
        if response.status_code >= 400:
            raise _problem_error(response)
        return response


def _problem_error(response: httpx.Response) -> TrusteeError:
    """The typed error of a SCRAPI refusal, its message the problem's detail (or title)."""
    from trustee.scitt import cbor  # only SCITT callers need the CBOR reader

    messages: list[str] = []
    try:
        problem = cbor.decode(response.content)
    except cbor.CBORError:
        problem = None
    if isinstance(problem, dict):
        text = problem.get(-2) or problem.get(-1)
        if isinstance(text, str):
            messages = [text]
    message = "; ".join(messages) or f"server answered {response.status_code}"
    kind = _ERRORS_BY_STATUS.get(response.status_code, TrusteeError)
    return _answered(kind(message), response.status_code, messages)


def _seconds(value: str | None) -> float:
    try:
        return max(float(value or 1), 0.0)
    except ValueError:
        return 1.0
