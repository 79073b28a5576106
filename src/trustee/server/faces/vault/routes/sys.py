"""``sys/``: initialisation, seal and unseal, health (API.md §2).

Vault answers these at the top level rather than inside ``data``; both are given, so hvac's
``sys`` methods and envelope-reading clients work alike.
"""

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from trustee import __version__
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


@router.get("/sys/health")
def health(request: Request) -> ORJSONResponse:
    status = core_of(request).barrier.status()
    code = 501 if not status.initialized else 503 if status.sealed else 200
    return ORJSONResponse(
        {
            "initialized": status.initialized,
            "sealed": status.sealed,
            "standby": False,
            "server_time_utc": int(time.time()),
            "version": __version__,
        },
        status_code=code,
    )


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
