"""EIP-4361 "Sign-In with Ethereum" messages: a strict parser and its formatter.

The grammar (EIP-4361's ABNF; LF is ``\\n``, never ``\\r\\n``)::

    [ scheme "://" ] domain " wants you to sign in with your Ethereum account:" LF
    address LF
    LF
    [ statement LF ]
    LF
    "URI: " uri LF
    "Version: " version LF
    "Chain ID: " chain-id LF
    "Nonce: " nonce LF
    "Issued At: " issued-at
    [ LF "Expiration Time: " expiration-time ]
    [ LF "Not Before: " not-before ]
    [ LF "Request ID: " request-id ]
    [ LF "Resources:" *( LF "- " URI ) ]

``domain`` is an RFC 3986 authority, ``address`` the EIP-55 checksum form of an address,
``statement`` any run of RFC 3986 reserved and unreserved characters and spaces, ``version``
``1``, ``chain-id`` a decimal EIP-155 chain id (no leading zero), ``nonce`` at least 8 letters
or digits, the times RFC 3339 ``date-time``, ``request-id`` RFC 3986 ``pchar``s.

:func:`format_message` of :func:`parse_message` gives back the very text parsed (times are kept
as written), and :func:`parse_message` raises :class:`SiweMessageError` (an
:class:`~trustee.errors.InvalidRequest`) naming the first thing wrong, never anything else.
The signature over the text is checked elsewhere (:mod:`trustee.auth.siwe_login`).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trustee.crypto.address import to_checksum_address
from trustee.errors import InvalidRequest

MAX_MESSAGE_LENGTH = 64 * 1024
MAX_CHAIN_ID_DIGITS = 78  # a uint256
HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"

_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_AUTHORITY = re.compile(
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"  # userinfo
    rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})+)"  # host
    r"(?::[0-9]*)?"  # port
)
# An RFC 3986 URI: a scheme, then only characters a URI may hold, percent-escapes well formed.
_URI = re.compile(rf"[A-Za-z][A-Za-z0-9+\-.]*:(?:[{_UNRESERVED}{_SUB_DELIMS}:@/?#\[\]]|{_PCT})*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_STATEMENT = re.compile(rf"[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@ ]*")
_NONCE = re.compile(r"[A-Za-z0-9]{8,}")
_CHAIN_ID = re.compile(r"[1-9][0-9]*")
_REQUEST_ID = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})*")
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)


class SiweMessageError(InvalidRequest):
    """A text that is not an EIP-4361 message; the message says what is wrong first."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"not an EIP-4361 message: {detail}")
        self.detail = detail


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    version: str = "1"
    scheme: str | None = None
    statement: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] | None = None

    @property
    def issued_at_time(self) -> float:
        return parse_date_time(self.issued_at, "Issued At")

    @property
    def expiration_timestamp(self) -> float | None:
        if self.expiration_time is None:
            return None
        return parse_date_time(self.expiration_time, "Expiration Time")

    @property
    def not_before_timestamp(self) -> float | None:
        if self.not_before is None:
            return None
        return parse_date_time(self.not_before, "Not Before")

    def __post_init__(self) -> None:
        _check_fields(self)


def parse_date_time(text: str, what: str) -> float:
    """Unix seconds of an RFC 3339 ``date-time`` (a leap second ``:60`` reads as the next)."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise SiweMessageError(f"{what} {text!r} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = float(match.group(7)) if match.group(7) else 0.0
    leap = second == 60
    try:
        moment = datetime(year, month, day, hour, minute, 59 if leap else second, tzinfo=UTC)
        if match.group(8):
            hours, minutes = int(match.group(9)), int(match.group(10))
            if hours > 23 or minutes > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=hours, minutes=minutes)
            moment -= offset if match.group(8) == "+" else -offset
    except (ValueError, OverflowError):
        raise SiweMessageError(f"{what} {text!r} is not a valid date and time") from None
    if second > 60:
        raise SiweMessageError(f"{what} {text!r} is not a valid date and time")
    return moment.timestamp() + fraction + (1 if leap else 0)


def _check_fields(message: SiweMessage) -> None:
    if message.scheme is not None and not _SCHEME.fullmatch(message.scheme):
        raise SiweMessageError(f"scheme {message.scheme!r} is not an RFC 3986 scheme")
    if not _AUTHORITY.fullmatch(message.domain):
        raise SiweMessageError(f"domain {message.domain!r} is not an RFC 3986 authority")
    if not _ADDRESS.fullmatch(message.address):
        raise SiweMessageError("the address is not 0x followed by 40 hex digits")
    checksummed = to_checksum_address(bytes.fromhex(message.address[2:]))
    if message.address != checksummed:
        raise SiweMessageError(
            f"address {message.address} is not in its EIP-55 checksum form ({checksummed})"
        )
    if message.statement is not None and not _STATEMENT.fullmatch(message.statement):
        raise SiweMessageError(
            "the statement may hold only RFC 3986 reserved and unreserved characters and "
            "spaces (no line break)"
        )
    if not _URI.fullmatch(message.uri):
        raise SiweMessageError(f"URI {message.uri!r} is not an RFC 3986 URI")
    if message.version != "1":
        raise SiweMessageError(f"version {message.version!r} is not 1")
    if (
        not isinstance(message.chain_id, int)
        or isinstance(message.chain_id, bool)
        or message.chain_id < 1
        or len(str(message.chain_id)) > MAX_CHAIN_ID_DIGITS
    ):
        raise SiweMessageError(f"chain ID {message.chain_id!r} is not a positive integer")
    if not _NONCE.fullmatch(message.nonce):
        raise SiweMessageError("the nonce must be at least 8 letters or digits")
    parse_date_time(message.issued_at, "Issued At")
    if message.expiration_time is not None:
        parse_date_time(message.expiration_time, "Expiration Time")
    if message.not_before is not None:
        parse_date_time(message.not_before, "Not Before")
    if message.request_id is not None and not _REQUEST_ID.fullmatch(message.request_id):
        raise SiweMessageError("the request ID may hold only RFC 3986 pchar characters")
    for resource in message.resources or ():
        if not _URI.fullmatch(resource):
            raise SiweMessageError(f"resource {resource!r} is not an RFC 3986 URI")


def format_message(message: SiweMessage) -> str:
    """The EIP-4361 text of a message, as wallets show and sign it."""
    origin = f"{message.scheme}://{message.domain}" if message.scheme else message.domain
    lines = [origin + HEADER_SUFFIX, message.address, ""]
    if message.statement is not None:
        lines.append(message.statement)
    lines += [
        "",
        f"URI: {message.uri}",
        f"Version: {message.version}",
        f"Chain ID: {message.chain_id}",
        f"Nonce: {message.nonce}",
        f"Issued At: {message.issued_at}",
    ]
    if message.expiration_time is not None:
        lines.append(f"Expiration Time: {message.expiration_time}")
    if message.not_before is not None:
        lines.append(f"Not Before: {message.not_before}")
    if message.request_id is not None:
        lines.append(f"Request ID: {message.request_id}")
    if message.resources is not None:
        lines.append("Resources:")
        lines += [f"- {resource}" for resource in message.resources]
    return "\n".join(lines)


class _Lines:
    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._at = 0

    def peek(self) -> str | None:
        return self._lines[self._at] if self._at < len(self._lines) else None

    def take(self, what: str) -> str:
        line = self.peek()
        if line is None:
            raise SiweMessageError(f"the message ends before {what}")
        self._at += 1
        return line

    def field(self, label: str) -> str:
        line = self.take(f"its {label!r} line")
        prefix = f"{label}: "
        if not line.startswith(prefix):
            raise SiweMessageError(f"line {self._at} should start with {prefix!r}")
        return line[len(prefix) :]

    def optional(self, label: str) -> str | None:
        line = self.peek()
        prefix = f"{label}: "
        if line is None or not line.startswith(prefix):
            return None
        self._at += 1
        return line[len(prefix) :]

    def blank(self, what: str) -> None:
        if self.take(what) != "":
            raise SiweMessageError(f"line {self._at} should be empty ({what})")


def parse_message(text: str) -> SiweMessage:
    """The fields of an EIP-4361 message; :class:`SiweMessageError` says what is wrong."""
    if not isinstance(text, str):
        raise SiweMessageError("the message must be text")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise SiweMessageError(f"the message is over {MAX_MESSAGE_LENGTH} characters")
    if "\r" in text:
        raise SiweMessageError("lines end with LF alone, never CR")
    lines = _Lines(text.split("\n"))
    header = lines.take("the header")
    if not header.endswith(HEADER_SUFFIX):
        raise SiweMessageError(f"the first line must end with {HEADER_SUFFIX.strip()!r}")
    origin = header[: -len(HEADER_SUFFIX)]
    scheme: str | None = None
    if "://" in origin:
        scheme, origin = origin.split("://", 1)
        if not _SCHEME.fullmatch(scheme):
            raise SiweMessageError(f"scheme {scheme!r} is not an RFC 3986 scheme")
    domain = origin
    if not domain:
        raise SiweMessageError("the first line names no domain")
    address = lines.take("the address")
    lines.blank("after the address")
    statement: str | None = None
    line = lines.take("the URI")
    if line == "":
        # Either no statement (the URI follows) or an empty one (a second blank line).
        if lines.peek() == "":
            statement = ""
            lines.take("the URI")
    else:
        statement = line
        lines.blank("after the statement")
    uri = lines.field("URI")
    version = lines.field("Version")
    chain = lines.field("Chain ID")
    if not _CHAIN_ID.fullmatch(chain) or len(chain) > MAX_CHAIN_ID_DIGITS:
        raise SiweMessageError(f"chain ID {chain!r} is not a decimal number without leading 0")
    nonce = lines.field("Nonce")
    issued_at = lines.field("Issued At")
    expiration_time = lines.optional("Expiration Time")
    not_before = lines.optional("Not Before")
    request_id = lines.optional("Request ID")
    resources: tuple[str, ...] | None = None
    if lines.peek() == "Resources:":
        lines.take("the resources")
        found: list[str] = []
        while (item := lines.peek()) is not None and item.startswith("- "):
            found.append(lines.take("a resource")[2:])
        resources = tuple(found)
    rest = lines.peek()
    if rest is not None:
        raise SiweMessageError(f"unexpected line after the last field: {rest[:80]!r}")
    return SiweMessage(
        domain=domain,
        address=address,
        uri=uri,
        chain_id=int(chain),
        nonce=nonce,
        issued_at=issued_at,
        version=version,
        scheme=scheme,
        statement=statement,
        expiration_time=expiration_time,
        not_before=not_before,
        request_id=request_id,
        resources=resources,
    )


def rfc3339(timestamp: float) -> str:
    """A unix time as RFC 3339 with milliseconds and ``Z``, as JavaScript's ``toISOString``."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
