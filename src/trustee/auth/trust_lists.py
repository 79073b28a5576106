"""Named trust lists: pre-established sets of addresses, stored and resolved by name.

``trustee/verify`` (``trust_list``), login roles and recipients resolve a name into a
:class:`~trustee.tokens.TrustList`; addresses are checked and stored in EIP-55 form.
"""

import json
import re
import time

import sqlalchemy as sa

from trustee.crypto.errors import CryptoError
from trustee.errors import InvalidRequest, NotFound
from trustee.storage import Database
from trustee.storage.schema_auth import trust_lists as _L
from trustee.storage.upsert import upsert
from trustee.tokens import TrustList

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)
MAX_ADDRESSES = 10_000


def check_name(name: object, what: str = "trust list") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidRequest(
            f"a {what} name is 1 to 128 letters, digits, '_', '.' or '-', "
            "not starting with a punctuation mark"
        )
    return name


def trust_list_of(addresses: object) -> TrustList:
    """A validated :class:`TrustList`, or :class:`InvalidRequest` naming the problem."""
    if not isinstance(addresses, list | tuple) or len(addresses) > MAX_ADDRESSES:
        raise InvalidRequest(f"addresses must be a list of at most {MAX_ADDRESSES} addresses")
    if not all(isinstance(address, str) for address in addresses):
        raise InvalidRequest("each address must be a string")
    try:
        return TrustList(addresses)
    except (CryptoError, ValueError) as exc:
        raise InvalidRequest(f"addresses: {exc}") from None


class TrustListService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"<TrustListService {self._db!r}>"

    def put(self, name: str, addresses: list[str]) -> TrustList:
        """Create or replace the list ``name``."""
        check_name(name)
        trust = trust_list_of(addresses)
        values = {"addresses": json.dumps(list(trust.addresses)), "updated_time": time.time()}
        with self._db.begin() as conn:
            upsert(conn, _L, {"name": name, **values})
        return trust

    def get(self, name: str) -> dict[str, object]:
        check_name(name)
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_L).where(_L.c.name == name)).first()
        if row is None:
            raise NotFound(f"no trust list named {name!r}")
        return {
            "name": name,
            "addresses": json.loads(row.addresses),
            "updated_time": row.updated_time,
        }

    def resolve(self, name: str) -> TrustList:
        """The list as a :class:`TrustList`; :class:`NotFound` when there is none."""
        return TrustList(self.get(name)["addresses"])  # type: ignore[arg-type]

    def delete(self, name: str) -> None:
        check_name(name)
        with self._db.begin() as conn:
            conn.execute(sa.delete(_L).where(_L.c.name == name))

    def list_names(self) -> list[str]:
        with self._db.connect() as conn:
            return sorted(conn.execute(sa.select(_L.c.name)).scalars().all())
