"""The web explorer at ``/ui/``: static files shipped in the package, no build step.

The page talks to the same ``/v1/`` API as every other client, with the caller's server token
in a header. Two things live here besides the files:

- strict response headers (a Content-Security-Policy that allows this origin only, so the page
  cannot load or send anything elsewhere, and no referrer, framing or MIME sniffing);
- ``POST /ui/checkpoint/verify``, the server-side check of a signed checkpoint that the page
  uses only when its browser has no WebCrypto Ed25519. It reads nothing from storage: it opens
  the note it is given with the key it is given, exactly as ``trustee ledger audit`` would.
"""

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from trustee.ledger.note import NoteError, open_checkpoint
from trustee.server.faces.vault.common import Body
from trustee.server.faces.vault.envelope import ORJSONResponse, ok

STATIC_DIR = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}


class UIFiles(StaticFiles):
    """Static files with the security headers added to every answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.decode("latin-1").lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


class CheckpointCheck(Body):
    checkpoint: str = Field(max_length=64 * 1024)
    key: str = Field(max_length=4096)


def verify_checkpoint(body: CheckpointCheck) -> ORJSONResponse:
    """Open a signed checkpoint with a verifier key; ``verified`` false says why."""
    try:
        opened = open_checkpoint(body.checkpoint, [body.key])
    except NoteError as exc:
        return ok({"verified": False, "error": str(exc)})
    return ok(
        {
            "verified": True,
            "origin": opened.origin,
            "size": opened.size,
            "root_hash": opened.root_hash.hex(),
        }
    )


def redirect_to_ui() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


def mount_ui(app: FastAPI) -> None:
    """Serve the explorer at ``/ui/`` (and send ``/ui`` there)."""
    app.add_api_route("/ui", redirect_to_ui, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route(
        "/ui/checkpoint/verify", verify_checkpoint, methods=["POST"], include_in_schema=False
    )
    app.mount("/ui", UIFiles(directory=STATIC_DIR, html=True), name="ui")
