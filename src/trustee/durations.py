"""Durations as Vault takes them: seconds (``10``, ``"10"``) or ``"90s"``, ``"30m"``, ``"2h30m"``.

Units are ``s``, ``m``, ``h`` and ``d``; parts may repeat in any order and are summed, as in
Go's ``time.ParseDuration`` that Vault uses. Fractions, signs and anything above ten years
are refused, so a typo cannot mint a token that outlives its owner.
"""

import re

from trustee.errors import InvalidRequest

MAX_DURATION = 10 * 365 * 24 * 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+)([smhd])")
_WHOLE = re.compile(r"(?:\d+[smhd])+")
_HINT = 'expected seconds or a duration such as "90s", "30m", "1h" or "2h30m"'


def parse_duration(value: int | float | str, *, what: str = "duration") -> int:
    """Whole seconds from an int, an integral float, a digit string or a unit string."""
    if isinstance(value, bool):
        raise InvalidRequest(f"{what} must be a number of seconds or a string, not a boolean")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidRequest(f"{what} must be a whole number of seconds")
        value = int(value)
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        seconds = _parse_text(value.strip(), what)
    else:
        raise InvalidRequest(f"invalid {what}: {_HINT}")
    if seconds < 0:
        raise InvalidRequest(f"{what} must not be negative")
    if seconds > MAX_DURATION:
        raise InvalidRequest(f"{what} must be at most ten years ({MAX_DURATION} seconds)")
    return seconds


def _parse_text(text: str, what: str) -> int:
    if len(text) > 64:
        raise InvalidRequest(f"invalid {what}: {_HINT}")
    if text.isascii() and text.isdigit():
        return int(text)
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        raise InvalidRequest(f"{what} must not be negative")
    if not text.isascii() or not _WHOLE.fullmatch(text):
        raise InvalidRequest(f"invalid {what}: {_HINT}")
    return sum(int(number) * _UNITS[unit] for number, unit in _PART.findall(text))
