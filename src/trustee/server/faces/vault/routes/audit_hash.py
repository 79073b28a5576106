"""``sys/audit-hash``: the HMAC the audit device writes for a value, to find it in the log."""

from fastapi import APIRouter, Request
from pydantic import Field

from trustee.errors import InvalidRequest
from trustee.server.asgi.audit_device import DEVICE_NAME, AuditDevice
from trustee.server.faces.vault.common import Body, write
from trustee.server.faces.vault.envelope import ORJSONResponse, envelope
from trustee.server.faces.vault.guard import requires

router = APIRouter(tags=["sys"])


class AuditHashRequest(Body):
    input: str = Field(max_length=64 * 1024, description="The value to hash, e.g. a token.")


def _audit_hash(request: Request, device_name: str, body: AuditHashRequest) -> ORJSONResponse:
    device: AuditDevice | None = getattr(request.app.state, "audit", None)
    if device is None:
        raise InvalidRequest("no audit device is enabled (start the server with --audit-file)")
    if device_name != DEVICE_NAME:
        raise InvalidRequest(f"unknown audit device {device_name[:64]!r}; this server has 'file'")
    data = {"hash": device.hash(body.input)}
    return ORJSONResponse(envelope(data) | data)


@write(router, "/sys/audit-hash")
def audit_hash(
    request: Request, body: AuditHashRequest, _=requires("update", "sudo")
) -> ORJSONResponse:
    """The HMAC the audit log writes for ``input``: find a known token in the log."""
    return _audit_hash(request, DEVICE_NAME, body)


@write(router, "/sys/audit-hash/{device}")
def audit_hash_of_device(
    request: Request, device: str, body: AuditHashRequest, _=requires("update", "sudo")
) -> ORJSONResponse:
    """Vault's form (``hvac``'s ``sys.calculate_hash``); the one device is named ``file``."""
    return _audit_hash(request, device, body)
