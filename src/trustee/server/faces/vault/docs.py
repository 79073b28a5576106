"""The API docs page at ``/v1/docs``: Swagger UI served by this server, nothing from a CDN.

FastAPI's own docs page loads Swagger UI's script, style sheet and icon from public hosts, so
it is blank offline and tells those hosts who reads the docs. Here the same page
(``get_swagger_ui_html``) points at Swagger UI's release files as the ``fastapi-swagger``
package ships them (republished with every Swagger UI release; nothing is copied into this
repository), served under ``/v1/docs/static/``.

The page gets the explorer's strict headers. Its one inline script, Swagger UI's start-up
call, is allowed by its hash, so the Content-Security-Policy still admits no other script and
no origin but this one; the online validator badge (an image from swagger.io) is turned off.
"""

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.types import Scope

from trustee.server.ui import SECURITY_HEADERS, UIFiles

__all__ = ["DOCS_URL", "STATIC_URL", "install_docs"]

DOCS_URL = "/v1/docs"
STATIC_URL = "/v1/docs/static"
ASSETS = ("fastapi_swagger", "resources")
"""(package, folder) of Swagger UI's files."""
FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
"""What the page loads, and all that is served from that folder."""

SWAGGER_UI_PARAMETERS = {
    # Swagger UI shows a badge fetched from validator.swagger.io for public documents.
    "validatorUrl": None,
}


class SwaggerUIFiles(UIFiles):
    """Swagger UI's files with the explorer's headers; nothing else of the package."""

    def __init__(self) -> None:
        super().__init__(packages=[ASSETS])

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in FILES:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def docs_page(title: str, openapi_url: str) -> tuple[bytes, dict[str, str]]:
    """The page's HTML and its headers: the explorer's, with the inline scripts' hashes."""
    html = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - API docs",
        swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC_URL}/favicon-32x32.png",
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    ).body
    inline = re.findall(rb"<script>(.*?)</script>", html, re.DOTALL)
    if not inline:
        raise RuntimeError("Swagger UI's page has no inline start-up script to allow")
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in inline
    )
    headers = dict(SECURITY_HEADERS)
    headers["content-security-policy"] = headers["content-security-policy"].replace(
        "script-src 'self'", f"script-src 'self' {hashes}"
    )
    return bytes(html), headers


def install_docs(app: FastAPI) -> None:
    """Serve the docs page at ``/v1/docs`` and Swagger UI's files below it.

    The application must be made with ``docs_url=None`` (FastAPI's page would load the CDN)."""
    if app.docs_url is not None or app.openapi_url is None:
        raise ValueError("install_docs wants an application with docs_url=None and openapi_url")
    html, headers = docs_page(app.title, app.openapi_url)

    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    app.add_api_route(DOCS_URL, swagger_ui, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount(STATIC_URL, SwaggerUIFiles(), name="docs-static")
