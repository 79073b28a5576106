"""Registered statements, newest first, one page at a time: what the explorer lists.

A read of the ``scitt_statements`` table only; nothing here verifies, writes or signs. Each
summary names its entry by the id SCRAPI answers (``<tree_size>.<log_index>``), so a reader
fetches the receipt or the transparent statement from ``/entries/<id>`` and checks it there:
the listing itself proves nothing, it says where to look.

Paging follows the ledger's listings (:mod:`trustee.ledger.paging`): an authenticated page
token carries the query (here the optional ``issuer`` filter) and the position, the last log
index answered; the next page continues strictly below it, so statements registered between
two pages never shift or repeat what a reader already saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from trustee.errors import InvalidRequest
from trustee.ledger import paging
from trustee.ledger.paging import DEFAULT_PAGE_SIZE, PageTokens
from trustee.ledger.records import rfc3339
from trustee.storage import Database
from trustee.storage.schema_scitt import scitt_statements as statements_t

__all__ = ["LISTING", "MAX_ISSUER_CHARS", "StatementListing", "StatementSummary"]

LISTING = "scitt-statements"
"""The page tokens' listing name: a token made for events does not continue this listing."""

MAX_ISSUER_CHARS = 2048


@dataclass(frozen=True)
class StatementSummary:
    """What the log recorded of one statement when it was registered (read, not re-verified)."""

    entry_id: str
    log_index: int
    tree_size: int
    issuer: str | None
    subject: str | None
    content_type: str | None
    alg: str
    registered_time: str
    """RFC 3339, UTC, like every time the API answers."""
    key_thumbprint: str
    """Hex of the RFC 9679 thumbprint of the key the statement was verified under."""

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "log_index": self.log_index,
            "issuer": self.issuer,
            "subject": self.subject,
            "content_type": self.content_type,
            "alg": self.alg,
            "registered_time": self.registered_time,
            "key_thumbprint": self.key_thumbprint,
        }


class StatementListing:
    """Statements over one database; safe to share between threads."""

    def __init__(self, db: Database, key: Callable[[], bytes]) -> None:
        self._db = db
        self._tokens = PageTokens(key)

    def list_statements(
        self,
        *,
        issuer: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> tuple[list[StatementSummary], str | None]:
        """Newest first (highest log index first), filtered by exact ``issuer`` when given;
        the token resumes the same query below the page's last log index."""
        size = paging.page_size(page_size)
        if issuer is not None and len(issuer) > MAX_ISSUER_CHARS:
            raise InvalidRequest(f"issuer is longer than {MAX_ISSUER_CHARS} characters")
        query, after = self._tokens.resume(LISTING, page_token, {}, {"issuer": issuer or None})
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            raise InvalidRequest("next_page_token is not one this server made for this listing")
        select = sa.select(statements_t).order_by(statements_t.c.log_index.desc())
        wanted = query.get("issuer")
        if wanted is not None:
            select = select.where(statements_t.c.issuer == wanted)
        if after is not None:
            select = select.where(statements_t.c.log_index < after)
        with self._db.connect() as conn:
            rows = conn.execute(select.limit(size + 1)).all()
        page = [_summary(row) for row in rows[:size]]
        token = None
        if len(rows) > size:
            token = self._tokens.encode(LISTING, query, page[-1].log_index)
        return page, token


def _summary(row: Any) -> StatementSummary:
    return StatementSummary(
        entry_id=f"{row.tree_size}.{row.log_index}",
        log_index=row.log_index,
        tree_size=row.tree_size,
        issuer=row.issuer,
        subject=row.subject,
        content_type=row.content_type,
        alg=row.alg,
        registered_time=rfc3339(row.registered_time),
        key_thumbprint=bytes(row.key_thumbprint).hex(),
    )
