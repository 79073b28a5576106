"""The access log without credentials: token-like query parameters lose their values.

uvicorn's access log prints each request's path with its whole query string, so a token a
client put in the URL (``?X-Vault-Token=``, ``?access_token=``, even if trustee refuses it)
would be written in clear wherever stdout goes. The rule is by name, because a value cannot be
recognised as secret: the value of every query parameter whose name, percent-decoded and in
any case, contains one of :data:`SECRET_NAME_PARTS` becomes ``[redacted]``; names and every
other value are kept, so the log still says what was asked.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

SECRET_NAME_PARTS = (
    "token",
    "secret",
    "key",
    "pass",
    "jwt",
    "auth",
    "sig",
    "credential",
    "session",
)
REDACTED = "[redacted]"

_SEPARATORS = re.compile(r"([&;])")


def is_secret_name(name: str) -> bool:
    """Whether a parameter (or header) by this name may carry a credential: broad on purpose,
    as clients put tokens under many names and hiding a harmless value costs little."""
    lowered = unquote_plus(name).lower()
    return any(part in lowered for part in SECRET_NAME_PARTS)


def redact_query(query: str) -> str:
    """``query`` with the value of each token-like parameter replaced by ``[redacted]``.

    Both ``&`` and ``;`` separate parameters here, whatever the application makes of ``;``: a
    looser split can only redact more.
    """
    pieces = _SEPARATORS.split(query)
    for index in range(0, len(pieces), 2):
        name, equals, _value = pieces[index].partition("=")
        if equals and is_secret_name(name):
            pieces[index] = f"{name}={REDACTED}"
    return "".join(pieces)


def redact_target(target: str) -> str:
    """A request target (path and query string) as the access log may print it."""
    path, question, query = target.partition("?")
    return f"{path}?{redact_query(query)}" if question else path


class RedactQueryFilter(logging.Filter):
    """Redacts the request target among the arguments of uvicorn's access records.

    A filter on the ``uvicorn.access`` logger rather than a formatter: it holds whichever
    handlers and formats are configured, and the record every handler sees is already clean.
    Every string argument with a ``?`` is treated as a target, so a reordering of uvicorn's
    arguments cannot let a query string through.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_target(arg) if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        return True
