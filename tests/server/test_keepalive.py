"""Every answer says how long the server keeps an idle connection, on every face."""

import warnings

from trustee.core import Core
from trustee.server.app import create_app
from trustee.server.connections import KEEP_ALIVE_SECONDS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def test_answers_carry_the_keep_alive_timeout(tmp_path) -> None:
    core, _ = Core.dev(folder=tmp_path)
    try:
        with TestClient(create_app(core)) as client:
            answers = [
                client.get("/v1/sys/health"),
                client.post("/v1/trustee/verify", json={"token": "x"}),  # a hot route
                client.get("/archivist/v2/assets"),  # a refusal of another face
                client.get("/ui/"),
            ]
    finally:
        core.close()
    for answer in answers:
        assert answer.headers["keep-alive"] == f"timeout={KEEP_ALIVE_SECONDS}", answer.url
