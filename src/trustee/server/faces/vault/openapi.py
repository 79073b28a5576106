"""The OpenAPI document, told the way the server really answers.

FastAPI documents a bare ``200`` with any body and a ``422`` that this server never sends
(validation errors are Vault's ``400``). Clients generated from the document, and schemathesis
checking the server against it, need the truth: Vault's success envelope, the ``errors`` list
with the statuses of docs/api.md §2, the health and JWKS shapes, and which operations want a token.
"""

import copy
from collections.abc import Callable, Iterable
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute

ERROR_STATUSES: dict[str, str] = {
    "400": "Bad input: a malformed or unknown field, a value out of range, JSON nested too deep.",
    "403": "No token, an invalid or expired token, or the policy denies.",
    "404": "Unknown path or object.",
    "405": "The path does not take this method.",
    "409": "The object already exists.",
    "413": "The request body is larger than 1 MiB.",
    "429": "Too many requests from this client; see Retry-After.",
    "501": "The server is not initialized.",
    "503": "Sealed, storage unavailable (with Retry-After), or the audit log cannot be written.",
}

_NULLABLE_OBJECT = {"anyOf": [{"type": "object"}, {"type": "null"}]}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Errors": {
        "type": "object",
        "required": ["errors"],
        "properties": {"errors": {"type": "array", "items": {"type": "string"}}},
    },
    "Envelope": {
        "type": "object",
        "description": "Vault's success envelope; sys routes repeat data at the top level.",
        "required": [
            "request_id",
            "lease_id",
            "renewable",
            "lease_duration",
            "data",
            "wrap_info",
            "warnings",
            "auth",
        ],
        "properties": {
            "request_id": {"type": "string"},
            "lease_id": {"type": "string"},
            "renewable": {"type": "boolean"},
            "lease_duration": {"type": "integer"},
            "data": _NULLABLE_OBJECT,
            "wrap_info": _NULLABLE_OBJECT,
            "warnings": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]
            },
            "auth": _NULLABLE_OBJECT,
        },
    },
    "Health": {
        "type": "object",
        "description": "Null initialized/sealed: the database never answered this process.",
        "required": ["initialized", "sealed", "standby", "storage", "server_time_utc", "version"],
        "properties": {
            "initialized": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
            "sealed": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
            "standby": {"type": "boolean"},
            "storage": {"enum": ["ok", "unavailable"]},
            "server_time_utc": {"type": "integer"},
            "version": {"type": "string"},
        },
    },
    "Liveness": {
        "type": "object",
        "required": ["alive", "server_time_utc"],
        "properties": {"alive": {"const": True}, "server_time_utc": {"type": "integer"}},
    },
    "JwkSet": {
        "type": "object",
        "required": ["keys"],
        "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
    },
}

SECURITY_SCHEMES = {
    "VaultToken": {"type": "apiKey", "in": "header", "name": "X-Vault-Token"},
    "BearerToken": {"type": "http", "scheme": "bearer"},
}

# Operations whose success body is not the envelope: (path, method) -> (status, schema, type).
_SPECIAL_SUCCESS = {
    ("/v1/sys/health", "get"): [("200", "Health"), ("501", "Health"), ("503", "Health")],
    ("/v1/sys/liveness", "get"): [("200", "Liveness")],
    ("/.well-known/jwks.json", "get"): [("200", "JwkSet")],
}
_MEDIA_TYPES = {("/.well-known/jwks.json", "get"): "application/jwk-set+json"}


def install_openapi(app: FastAPI) -> None:
    """Rewrite the generated document once, the first time it is asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def is_token_guard(call: Callable[..., Any]) -> bool:
    """The dependency :func:`~trustee.server.faces.vault.guard.requires` builds: the route
    wants a token."""
    return getattr(call, "wants_token", False) is True


def api_routes(routes: Iterable[Any]) -> list[Any]:
    """Every API route, as seen from the app: newer FastAPI nests included routers, and
    ``iter_route_contexts`` gives their routes with the prefix applied."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        return [route for route in routes if isinstance(route, APIRoute)]
    return [view for view in iterate(list(routes)) if isinstance(view.original_route, APIRoute)]


def describe(document: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    routes = api_routes(routes)
    _add_aliases(document, routes)
    guarded = _guarded_operations(routes)
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components["securitySchemes"] = SECURITY_SCHEMES
    seen_ids: set[str] = set()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            _describe_operation(path, method, operation, (path, method) in guarded)
            # One handler for POST and PUT gets one generated id; ids must be unique.
            if operation.get("operationId") in seen_ids:
                operation["operationId"] = f"{operation['operationId']}_{method}"
            seen_ids.add(operation.get("operationId"))
    schemas = components["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _describe_operation(path: str, method: str, operation: dict[str, Any], guarded: bool) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    media_type = _MEDIA_TYPES.get((path, method), "application/json")
    special = _SPECIAL_SUCCESS.get((path, method))
    if special:
        for status, schema in special:
            responses[status] = _response("See the schema.", schema, media_type)
    else:
        for status, response in responses.items():
            content = response.get("content", {}).get("application/json")
            if status.startswith("2") and content is not None and not content.get("schema"):
                content["schema"] = _ref("Envelope")
    for status, description in ERROR_STATUSES.items():
        responses.setdefault(status, _response(description, "Errors", "application/json"))
    if guarded:
        operation["security"] = [{"VaultToken": []}, {"BearerToken": []}]


def _add_aliases(document: dict[str, Any], routes: list[Any]) -> None:
    """Document the hidden aliases (PUT for POST, as Vault has them) under their own ids.

    Undocumented, they would answer where the document promises 405; documented as copies of
    the operation they alias, a client generated from the document knows them too.
    """
    paths = document.get("paths", {})
    for route in routes:
        if route.include_in_schema:
            continue
        item = paths.get(route.path_format)
        if not item:
            continue
        for method in sorted(route.methods):
            verb = method.lower()
            if verb in item:
                continue
            original_verb = "post" if "post" in item else next(iter(item))
            original = item[original_verb]
            alias = copy.deepcopy(original)
            alias["operationId"] = f"{original.get('operationId', route.name)}_{verb}"
            alias["summary"] = f"{original.get('summary', route.name)} ({method} alias)"
            alias["x-trustee-alias-of"] = original_verb.upper()
            item[verb] = alias


def _guarded_operations(routes: Iterable[Any]) -> set[tuple[str, str]]:
    guarded = set()
    for route in routes:
        calls = [dependency.call for dependency in route.dependant.dependencies]
        if any(call is not None and is_token_guard(call) for call in calls):
            guarded.update((route.path_format, method.lower()) for method in route.methods)
    return guarded


def _response(description: str, schema: str, media_type: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": _ref(schema)}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}
