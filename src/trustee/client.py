"""A Python client for a trustee server, mirroring its routes (API.md §2–5).

>>> with Client("http://127.0.0.1:8200", token) as client:
...     client.create_trustee("alice")
...     jwt = client.claim("alice", audience="bob")["jwt"]
...     client.verify_token(jwt, audience="bob")["valid"]

Errors come back as the classes of :mod:`trustee.errors`, chosen by HTTP status and carrying
the server's messages; a server that cannot be reached raises :class:`ConnectionFailed`. The
token never appears in a ``repr`` or an error message.
"""

from __future__ import annotations  # a method is named ``list``

import base64
import json
import os
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
    """The server could not be reached (refused, timed out, bad address)."""

    status = 0


def default_address() -> str:
    return os.environ.get("TRUSTEE_ADDR") or os.environ.get("VAULT_ADDR") or DEFAULT_ADDRESS


def default_token() -> str | None:
    return os.environ.get("TRUSTEE_TOKEN") or os.environ.get("VAULT_TOKEN")


def error_for(response: httpx.Response) -> TrusteeError:
    """The typed error for a failed answer, with the server's messages joined."""
    messages: list[str] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        messages = [str(message) for message in body["errors"]]
    message = "; ".join(messages) or f"server answered {response.status_code}"
    error = _ERRORS_BY_STATUS.get(response.status_code, TrusteeError)(message)
    error.status = response.status_code
    error.errors = messages
    return error


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _quote(segment: str) -> str:
    """One path segment, percent-encoded (a ``/`` in a name cannot reach another route)."""
    return quote(segment, safe="")


class Client:
    """One server, one token, one connection pool. Use as a context manager or ``close()``."""

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.address = (address or default_address()).rstrip("/")
        self._token = token if token is not None else default_token()
        self._http = httpx.Client(base_url=self.address, timeout=timeout, transport=transport)

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
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        authenticated: bool = True,
    ) -> dict[str, Any] | None:
        """Send one request to ``/v1/<path>``; the decoded answer, or None for 204."""
        headers = {}
        if authenticated and self._token:
            headers["X-Vault-Token"] = self._token
        url = "/v1/" + path.lstrip("/")
        try:
            response = self._http.request(method, url, json=json, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise ConnectionFailed(f"{self.address} timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"cannot reach {self.address} ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise error_for(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise TrusteeError(f"server answered {response.status_code} with non-JSON") from None

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
            raise ConnectionFailed(f"cannot reach {self.address} ({type(exc).__name__})") from None
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

    # -- trustees ------------------------------------------------------------------------------

    def create_trustee(self, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"metadata": metadata} if metadata is not None else {}
        return self._data("POST", f"trustee/trustees/{_quote(name)}", json=body)

    def read_trustee(self, name: str) -> dict[str, Any]:
        return self._data("GET", f"trustee/trustees/{_quote(name)}")

    def list_trustees(self) -> list[str]:
        try:
            return list(self._data("LIST", "trustee/trustees").get("keys", []))
        except NotFound:
            return []

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
    ) -> dict[str, Any]:
        """A JWT signed by ``name``: ``{"jwt": ..., "claims": <the full payload>}``.

        With ``encrypt_for`` (a registered audience) each claim value is encrypted to that
        audience's key.
        """
        body: dict[str, Any] = {"legacy_eth_claim": legacy_eth_claim}
        for key, value in (
            ("claims", claims),
            ("subject", subject),
            ("audience", audience),
            ("ttl", ttl),
            ("not_before", not_before),
            ("encrypt_for", encrypt_for),
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
        try:
            return list(self._data("LIST", "trustee/addresses").get("keys", []))
        except NotFound:
            return []

    def verify_token(
        self,
        token: str,
        audience: str | None = None,
        trusted: list[str] | None = None,
        trust_list: str | None = None,
        leeway: float | None = None,
    ) -> dict[str, Any]:
        """The server's verdict on a JWT (API.md §4); no server token is sent or needed."""
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
        try:
            return list(self._data("LIST", path).get("keys", []))
        except NotFound:
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
        """Create or replace a login role (API.md §5); answers the stored settings."""
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
