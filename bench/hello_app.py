"""The baseline of the HTTP figures: bare Starlette with one route, served as trustee is.

Whatever this app costs per request is the floor any Starlette app on the same uvicorn settings
pays (HTTP parsing, the event loop, routing, a response); trustee's routes are judged against it.
``python -m bench.hello_app PORT WORKERS`` serves it through the same supervisor and settings as
``trustee server --workers``.
"""

import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(_: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


app = Starlette(routes=[Route("/hello", hello)])

if __name__ == "__main__":
    from trustee.cli.server import run_workers, uvicorn_options  # the launcher only, not the app

    port, workers = int(sys.argv[1]), int(sys.argv[2])
    run_workers(f"{__spec__.name}:app", workers, **uvicorn_options("127.0.0.1", port, "warning"))
