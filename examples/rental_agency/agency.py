"""The car-rental agency of trustee's story: a recipient that is not the trustee server.

The agency already knows and trusts some addresses (its trust list, a file it controls). A
customer shows a JWT signed by one of them; the agency verifies it offline with
:class:`~trustee.auth.middleware.TrusteeAuthMiddleware` and hands over a car only when the
token's ``usage`` claim names it. Nothing is fetched from the issuer or from a server.

    python examples/rental_agency/agency.py --trust-list partners.json --listen 127.0.0.1:8300

Answers: 200 with the rental; 401 with ``WWW-Authenticate`` when the token is missing or not
valid (untrusted issuer, expired, tampered, addressed to someone else); 403 when the token is
valid but its ``usage`` does not name the car; 404 for a car the agency does not have.
"""

import argparse
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from trustee.auth.middleware import TrusteeAuthMiddleware, TrusteeUser
from trustee.auth.trust_file import TrustFileError, load_trust_list
from trustee.tokens import TrustList

AUDIENCE = "rental-agency"
CARS = {
    "knight_rider": "KITT, a black 1982 Pontiac Trans Am",
    "delorean": "a 1981 DeLorean DMC-12",
}


def usages(claims: dict[str, Any]) -> set[str]:
    """The ``usage`` claim as a set: a list of names, or one name."""
    usage = claims.get("usage")
    if isinstance(usage, str):
        return {usage}
    if isinstance(usage, list):
        return {item for item in usage if isinstance(item, str)}
    return set()


def create_app(trusted: TrustList, audience: str = AUDIENCE) -> FastAPI:
    app = FastAPI(title="rental agency", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/cars")
    def cars() -> dict[str, dict[str, str]]:
        return {"cars": CARS}

    @app.post("/cars/{car}/rent")
    def rent(car: str, request: Request) -> dict[str, Any]:
        if car not in CARS:
            raise HTTPException(404, f"no car named {car!r}")
        user: TrusteeUser = request.user
        if car not in usages(user.claims):
            # The issuer is trusted, but it did not vouch for this car.
            raise HTTPException(403, f"the token's usage does not include {car!r}")
        return {
            "car": car,
            "description": CARS[car],
            "renter": user.display_name,
            "vouched_by": user.address,
        }

    @app.exception_handler(HTTPException)
    async def as_errors(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"errors": [str(exc.detail)]}, status_code=exc.status_code)

    # Everything but the health check needs a token from a trusted address.
    app.add_middleware(
        TrusteeAuthMiddleware,
        trusted=trusted,
        audience=audience,
        exempt_paths=["/health"],
        realm="rental-agency",
    )
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The car-rental agency (trustee example).")
    parser.add_argument(
        "--trust-list",
        type=Path,
        required=True,
        help='trusted addresses: a JSON list, {"addresses": [...]}, or one a line',
    )
    parser.add_argument("--audience", default=AUDIENCE, help="who the agency is (the aud)")
    parser.add_argument("--listen", default="127.0.0.1:8300", help="HOST:PORT")
    args = parser.parse_args(argv)
    try:
        trusted = load_trust_list(args.trust_list)
    except TrustFileError as exc:
        parser.error(str(exc))
    if not trusted:
        parser.error(f"{args.trust_list} trusts no one")
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error("--listen takes HOST:PORT")
    print(f"rental agency ({args.audience}) trusts {', '.join(trusted)}", flush=True)
    uvicorn.run(
        create_app(trusted, args.audience), host=host, port=int(port), http="h11", log_level="info"
    )


if __name__ == "__main__":
    main()
