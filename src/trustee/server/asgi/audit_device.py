"""The file audit device, as Vault has it: every request and response as a JSON line.

Secrets never reach the file. As Vault's device does by default, every string value of a
request or response body and of the query is replaced by ``hmac-sha256:<hex>``, an
HMAC-SHA256 under a key of this server, and so are every credential header
(:data:`SECRET_HEADERS`), the token the request was served with, and every body that is not
JSON; names, numbers and the shape of each body stay readable. An operator who holds a token
(or a share, a passphrase, an address) can ask ``sys/audit-hash`` for its HMAC and find it in
the log; a reader of the log learns nothing else, and without the key cannot even test guesses.

``clear_values`` (``trustee server --audit-clear-values``) writes string values in clear,
except those of secret fields (:data:`SECRET_FIELDS`, at any depth) and of query parameters
whose name looks like a credential (:func:`secret_name`), which stay hashed.

The key is 32 random bytes, hex, in a file of its own (mode 0600), created on first use: by
default ``audit-hmac.key`` in the data folder of an SQLite server, so it is not shipped with
the log; PostgreSQL servers, which have no data folder, name it with ``--audit-key-file`` (every
replica the same file, so their hashes agree).

Vault's rule holds: the request entry is written before the request is served and the response
entry before the response is sent; if either write fails, the client gets 503 ("audit log
unavailable") instead. An operation whose response entry could not be written has still
happened; its client is told it failed, as with Vault.
"""

import hashlib
import hmac
import os
import secrets
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
import sqlalchemy as sa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustee.server.access_log import is_secret_name
from trustee.server.asgi.body import read_body, replay
from trustee.server.asgi.faces import Faces
from trustee.server.asgi.json_depth import json_depth_exceeds

HASH_PREFIX = "hmac-sha256:"
KEY_FILE_NAME = "audit-hmac.key"
DEVICE_NAME = "file"

SECRET_FIELDS = frozenset(
    {
        "accessor",
        "ciphertext",
        "client_token",
        "input",
        "jwt",
        "key",
        "keys",
        "keys_base64",
        "keystore",
        "passphrase",
        "password",
        "plaintext",
        "private_key",
        "root_token",
        "secret",
        "token",
        "unseal_key",
    }
)
"""Field names whose values are secret wherever they appear: bearer tokens and JWTs (which
are bearer credentials too), their accessors, unseal shares and keys, passphrases, private
keys and keystores, both sides of ECIES encryption, and what sys/audit-hash is asked to hash."""

SECRET_FIELDS_BY_PATH_END = {"/decrypt": frozenset({"claims"})}
"""Fields secret only on some paths: the claims a decrypt call opens (or is given sealed) are
plaintext or ciphertext there, and ordinary token claims everywhere else."""

SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "proxy-authorization", "set-cookie", "x-vault-token"}
)
UNAVAILABLE = "audit log unavailable"


def secret_name(name: str) -> bool:
    """Whether a query parameter or header by this name may carry a credential: the access
    log's rule (:func:`~trustee.server.access_log.is_secret_name`), or a secret field."""
    return name.lower() in SECRET_FIELDS or is_secret_name(name)


class AuditUnavailable(Exception):
    """The audit file could not be written; the request must fail."""


class AuditDevice:
    """Appends JSON lines to one file and hashes secrets under one key."""

    def __init__(self, path: Path, key: bytes, *, clear_values: bool = False) -> None:
        if len(key) != 32:
            raise ValueError("an audit HMAC key is 32 bytes")
        self.path = Path(path)
        self.clear_values = clear_values
        self._key = key
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<AuditDevice {str(self.path)!r}>"

    @classmethod
    def open(cls, path: Path, key_path: Path, *, clear_values: bool = False) -> "AuditDevice":
        """The device for ``path``, its key read from ``key_path`` (created when missing).

        Both files are tried now, so a server that cannot audit refuses to start rather
        than refusing every request.
        """
        device = cls(Path(path), load_or_create_key(Path(key_path)), clear_values=clear_values)
        device._append(b"")
        return device

    def hash(self, value: str | bytes) -> str:
        """``hmac-sha256:<hex>`` of ``value`` (text as UTF-8): what the log holds in its place."""
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        digest = hmac.new(self._key, data, hashlib.sha256)
        return HASH_PREFIX + digest.hexdigest()

    def write(self, entry: dict[str, Any]) -> None:
        """Append one entry; :class:`AuditUnavailable` when the line could not be written."""
        self._append(orjson.dumps(entry) + b"\n")

    def _append(self, line: bytes) -> None:
        # Opened per line: a rotated or removed file is noticed at once, and O_APPEND keeps the
        # lines of concurrent writers whole.
        with self._lock:
            try:
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    view = memoryview(line)
                    while view:
                        view = view[os.write(descriptor, view) :]
                finally:
                    os.close(descriptor)
            except OSError as exc:
                raise AuditUnavailable(exc.strerror or type(exc).__name__) from None

    # -- redaction -----------------------------------------------------------------------

    def redact(self, value: Any, secret: frozenset[str] = SECRET_FIELDS) -> Any:
        """``value`` with every string hashed, at any depth (with ``clear_values``, only the
        values of fields named in ``secret``); a secret object is hashed whole."""
        if isinstance(value, dict):
            return {
                name: self._secret(item) if name in secret else self.redact(item, secret)
                for name, item in value.items()
            }
        if isinstance(value, list):
            return [self.redact(item, secret) for item in value]
        if isinstance(value, str) and not self.clear_values:
            return self.hash(value)
        return value

    def _secret(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.hash(value)
        if isinstance(value, list):
            return [self._secret(item) for item in value]
        if isinstance(value, dict):  # a keystore: hashed whole, in canonical form
            return self.hash(orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())
        return value

    def redact_body(self, body: bytes, content_type: str, path: str = "") -> Any:
        """A JSON body, redacted; anything else only as its length and HMAC."""
        if not body:
            return None
        looks_json = "json" in content_type or body.lstrip()[:1] in (b"{", b"[")
        if looks_json and not json_depth_exceeds(body):
            secret = SECRET_FIELDS
            for end, fields in SECRET_FIELDS_BY_PATH_END.items():
                if path.endswith(end):
                    secret = secret | fields
            try:
                return self.redact(orjson.loads(body), secret)
            except orjson.JSONDecodeError:
                pass
        return {"bytes": len(body), "hmac": self.hash(body)}

    def redact_headers(self, headers: list[tuple[bytes, bytes]]) -> dict[str, str | list[str]]:
        """Headers by lower-case name; a repeated header keeps every value, in order."""
        result: dict[str, str | list[str]] = {}
        for raw_name, raw_value in headers:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if name in SECRET_HEADERS or secret_name(name):
                scheme, _, credential = value.partition(" ")
                value = (
                    f"{scheme} {self.hash(credential.strip())}"
                    if name == "authorization" and credential
                    else self.hash(value)
                )
            _add(result, name, value)
        return result

    def redact_query(self, query: bytes) -> dict[str, Any]:
        """Parameters by name (a repeated one as a list): each value hashed, or with
        ``clear_values`` those whose name looks like a credential."""
        result: dict[str, Any] = {}
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if not self.clear_values or secret_name(name):
                value = self.hash(value)
            _add(result, name, value)
        return result


def _add(fields: dict[str, Any], name: str, value: str) -> None:
    """``value`` under ``name``; a name seen before holds the list of its values, in order."""
    before = fields.get(name)
    if before is None:
        fields[name] = value
    else:
        fields[name] = [*before, value] if isinstance(before, list) else [before, value]


def load_or_create_key(path: Path) -> bytes:
    """The 32-byte key in ``path`` (hex), made from the OS CSPRNG and saved 0600 when absent."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
        return key
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError(f"{path} does not hold a 32-byte hex audit key")
    return key


def default_key_path(storage_url: str | sa.URL) -> Path | None:
    """``audit-hmac.key`` beside an SQLite database file; None for other storage."""
    url = sa.make_url(storage_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).parent / KEY_FILE_NAME


def open_audit_device(
    audit_file: str | Path,
    key_file: str | Path | None,
    storage_url: str | sa.URL,
    *,
    clear_values: bool = False,
) -> AuditDevice:
    """The device for ``trustee server --audit-file``; ValueError says what is wrong."""
    key_path = Path(key_file) if key_file else default_key_path(storage_url)
    if key_path is None:
        raise ValueError(
            "--audit-key-file is needed with this storage: the audit HMAC key is kept in the "
            "data folder of an SQLite server, and this one has none"
        )
    try:
        return AuditDevice.open(Path(audit_file), key_path, clear_values=clear_values)
    except OSError as exc:
        raise ValueError(f"cannot open the audit log or its key: {exc}") from None


# -- the middleware ----------------------------------------------------------------------


class AuditMiddleware:
    """Writes the request entry, runs the app with the response held back, writes the
    response entry, then lets the response go; 503, in the request's face's shape, if the log
    cannot be written."""

    def __init__(self, app: ASGIApp, device: AuditDevice, faces: Faces) -> None:
        self.app = app
        self.device = device
        self.faces = faces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        device = self.device
        face = self.faces.of_request(scope)
        body, tail = await read_body(receive)
        request_id = str(uuid.uuid4())
        headers = scope.get("headers", [])
        token = face.credential(scope)
        request = {
            "id": request_id,
            "client_token": device.hash(token) if token is not None else None,
            "method": scope["method"],
            "path": scope["path"],
            "query": device.redact_query(scope.get("query_string", b"")),
            "remote_address": (scope.get("client") or ("", 0))[0],
            "headers": device.redact_headers(headers),
            "data": device.redact_body(body, _header(headers, b"content-type"), scope["path"]),
        }
        try:
            device.write({"time": _now(), "type": "request", "request": request})
        except AuditUnavailable:
            await face.refuse(503, UNAVAILABLE, {})(scope, receive, send)
            return

        state = scope.setdefault("state", {})
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        entry: dict[str, Any] = {
            "time": _now(),
            "type": "response",
            "request": {"id": request_id, "method": scope["method"], "path": scope["path"]},
        }
        try:
            await self.app(scope, replay(body, tail, receive), hold)
        except Exception as exc:
            # Starlette turns it into a 500 further out; the log says so first, naming only the
            # error's type (its message may carry request data).
            entry["response"] = {"status": 500, "error": type(exc).__name__}
            device.write(entry)
            raise

        start = next((m for m in held if m["type"] == "http.response.start"), {})
        response_body = b"".join(m.get("body", b"") for m in held if m is not start)
        content_type = _header(start.get("headers", []), b"content-type")
        entry["response"] = {
            "status": start.get("status", 500),
            "data": device.redact_body(response_body, content_type, scope["path"]),
        }
        token_entry = state.get("token_entry")
        if token_entry is not None:
            entry["auth"] = {
                "accessor": device.hash(token_entry.accessor),
                "policies": token_entry.policies,
                "display_name": token_entry.display_name,
                "metadata": token_entry.metadata,
            }
        try:
            device.write(entry)
        except AuditUnavailable:
            await face.refuse(503, UNAVAILABLE, {})(scope, receive, send)
            return
        for message in held:
            await send(message)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1").lower()
    return ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
