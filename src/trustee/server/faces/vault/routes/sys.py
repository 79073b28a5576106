"""``sys/``: initialisation, seal and unseal, health (docs/api.md §4).

Vault answers these at the top level rather than inside ``data``; both are given, so hvac's
``sys`` methods and envelope-reading clients work alike.
"""

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from trustee import __version__
from trustee.errors import InvalidRequest, StorageUnavailable
from trustee.secret import Secret
from trustee.server.faces.vault.common import Body, write
from trustee.server.faces.vault.envelope import ORJSONResponse, envelope, no_content
from trustee.server.faces.vault.guard import core_of, requires

router = APIRouter(tags=["sys"])


def _flat(data: dict[str, Any], status: int = 200) -> ORJSONResponse:
    return ORJSONResponse(envelope(data) | data, status_code=status)


def _seal_status(request: Request) -> dict[str, Any]:
    status = core_of(request).barrier.status()
    return {
        "type": "shamir",
        "initialized": status.initialized,
        "sealed": status.sealed,
        "t": status.t,
        "n": status.n,
        "progress": status.progress,
        "version": __version__,
    }


class InitRequest(Body):
    secret_shares: int = Field(5, ge=1, le=10)
    secret_threshold: int = Field(3, ge=1, le=10)


class UnsealRequest(Body):
    key: str | None = Field(None, max_length=200, description="One hex unseal share.")
    reset: bool = False


HEALTH_CODES = {
    "activecode": 200,
    "uninitcode": 501,
    "sealedcode": 503,
    "storagecode": 503,
    "standbycode": 429,  # accepted as Vault's; a trustee server is never a standby
    "performancestandbycode": 473,
    "drsecondarycode": 472,
}
"""Vault's query overrides of each state's status, and ``storagecode``: unsealed, but the
database does not answer (no request that needs it can be served)."""


@router.get("/sys/health")
def health(request: Request) -> ORJSONResponse:
    """Readiness, as a load balancer asks it: 200 only when every request can be served."""
    codes = _health_codes(request)
    core = core_of(request)
    try:
        status = core.barrier.status()
    except StorageUnavailable:  # never initialised in this process, and no database to ask
        status = None
    storage = status is not None and core.storage.answers()
    if status is None or not storage:
        code = codes["storagecode"]
    elif not status.initialized:
        code = codes["uninitcode"]
    elif status.sealed:
        code = codes["sealedcode"]
    else:
        code = codes["activecode"]
    return ORJSONResponse(
        {
            "initialized": status.initialized if status is not None else None,
            "sealed": status.sealed if status is not None else None,
            "standby": False,
            "storage": "ok" if storage else "unavailable",
            "server_time_utc": int(time.time()),
            "version": __version__,
        },
        status_code=code,
    )


@router.get("/sys/liveness")
def liveness() -> ORJSONResponse:
    """200 while the process serves HTTP at all, whatever its storage or seal: restart it
    only when this fails, route to it only when ``sys/health`` says 200."""
    return ORJSONResponse({"alive": True, "server_time_utc": int(time.time())})


def _health_codes(request: Request) -> dict[str, int]:
    codes = dict(HEALTH_CODES)
    for name in codes:
        given = request.query_params.get(name)
        if given is None:
            continue
        if not given.isdigit() or not 100 <= int(given) <= 599:
            raise InvalidRequest(f"{name} must be an HTTP status code, 100 to 599")
        codes[name] = int(given)
    return codes


@router.get("/sys/init")
def read_init(request: Request) -> ORJSONResponse:
    return _flat({"initialized": core_of(request).barrier.initialized})


@write(router, "/sys/init")
def initialize(request: Request, body: InitRequest) -> ORJSONResponse:
    result = core_of(request).initialize(body.secret_shares, body.secret_threshold)
    return _flat({"keys": result.keys, "keys_base64": [], "root_token": result.root_token})


@router.get("/sys/seal-status")
def seal_status(request: Request) -> ORJSONResponse:
    return _flat(_seal_status(request))


@write(router, "/sys/unseal")
def unseal(request: Request, body: UnsealRequest) -> ORJSONResponse:
    barrier = core_of(request).barrier
    if body.reset:
        barrier.reset_unseal_progress()
    elif body.key is not None:
        barrier.unseal(Secret(body.key))
    return _flat(_seal_status(request))


@write(router, "/sys/seal", status_code=204)
def seal(request: Request, _=requires("update", "sudo")):
    core_of(request).barrier.seal()
    return no_content()
