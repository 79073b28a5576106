"""ACL policies as Vault writes them, parsed and checked at load time; pure, no I/O.

A policy is a list of path rules, written in JSON or in the small HCL subset Vault's own
policies use::

    # may claim as trustee alice, and nothing else
    path "trustee/trustees/alice/claim" {
      capabilities = ["update"]
    }

    {"path": {"trustee/trustees/alice/claim": {"capabilities": ["update"]}}}

Patterns:

- a plain pattern matches exactly that path;
- ``*``, only as the last character, makes the pattern a prefix (``trustee/trustees/al*``
  matches ``trustee/trustees/alice/claim``);
- ``+`` as a whole segment matches exactly one non-empty segment
  (``trustee/trustees/+/claim``).

Capabilities are the closed set create, read, update, delete, list, sudo, deny; anything else,
and any key other than ``path`` and ``capabilities``, is an error naming the path.

Evaluation (:func:`allows`) follows Vault's ACL, which merges all of a token's policies:

1. Among the rules of *all* the token's policies that match the path, the one with the most
   specific pattern is chosen (:func:`priority`: the later the first wildcard, the more
   specific; then a pattern without a trailing ``*`` beats one with it; then fewer ``+``
   segments; then the longer pattern). Less specific rules do not apply, so
   ``path "a/*" {deny}`` with ``path "a/b" {read}`` grants read on ``a/b``, whichever
   policies they are in.
2. When that same pattern is written in several policies, their capabilities are united.
3. ``deny`` among them wins: nothing is granted, whatever the others say.
4. Nothing matching means nothing granted (default deny).

A ``list`` is checked on the folder with a trailing slash, as Vault does (``LIST
trustee/trustees`` is checked on ``trustee/trustees/``, so ``trustee/trustees/*`` grants it
and a deny there forbids it). Only when no rule matches that form at all is a rule naming the
folder without the slash honoured.

The ``root`` policy grants everything; ``default`` lets a token look itself up, renew and
revoke itself.
"""

import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from trustee.auth.authorizer import CAPABILITIES
from trustee.errors import InvalidRequest

__all__ = [
    "CAPABILITIES",
    "DEFAULT_POLICY",
    "Policy",
    "PolicyError",
    "Rule",
    "allows",
    "granted",
    "parse_policy",
    "priority",
]

MAX_POLICY_BYTES = 64 * 1024
MAX_RULES = 1000
MAX_PATTERN_LENGTH = 512


class PolicyError(InvalidRequest):
    """A policy text that cannot be used; the message names the place."""


@dataclass(frozen=True)
class Rule:
    """One ``path`` block: a pattern and the capabilities it grants (or ``deny``)."""

    pattern: str
    capabilities: frozenset[str]

    def matches(self, path: str) -> bool:
        return _compile(self.pattern).fullmatch(path.lstrip("/")) is not None


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form (what is stored next to the text)."""
        return {
            "path": {
                rule.pattern: {"capabilities": sorted(rule.capabilities)} for rule in self.rules
            }
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Policy":
        return _from_mapping(data)


DEFAULT_POLICY = Policy(
    (
        Rule("auth/token/lookup-self", frozenset({"read"})),
        Rule("auth/token/renew-self", frozenset({"update"})),
        Rule("auth/token/revoke-self", frozenset({"update"})),
    )
)


def priority(rule: Rule) -> tuple[int, int, int, int, str]:
    """A sort key: the higher, the more specific (Vault's priority rules, simplified)."""
    pattern = rule.pattern
    wildcards = [i for i in (pattern.find("+"), pattern.find("*")) if i >= 0]
    first_wildcard = min(wildcards) if wildcards else len(pattern) + 1
    return (
        first_wildcard,
        0 if pattern.endswith("*") else 1,
        -pattern.split("/").count("+"),
        len(pattern),
        pattern,
    )


def granted(policies: Iterable[Policy], path: str) -> frozenset[str]:
    """The capabilities ``policies`` grant on ``path`` (empty when the chosen rules deny)."""
    return _evaluate(policies, path) or frozenset()


def allows(policies: Iterable[Policy], path: str, capability: str) -> bool:
    if capability not in CAPABILITIES or capability == "deny":
        return False
    policies = tuple(policies)
    if capability == "list":
        folder = _evaluate(policies, path.rstrip("/") + "/")
        if folder is not None:
            return capability in folder
    return capability in granted(policies, path)


def _evaluate(policies: Iterable[Policy], path: str) -> frozenset[str] | None:
    """The merged capabilities of the most specific matching pattern; None if none matches."""
    best: tuple[int, int, int, int, str] | None = None
    union: set[str] = set()
    for policy in policies:
        for rule in policy.rules:
            if not rule.matches(path):
                continue
            key = priority(rule)
            if best is None or key > best:
                best, union = key, set(rule.capabilities)
            elif key == best:  # the same pattern in another policy: Vault unites them
                union |= rule.capabilities
    if best is None:
        return None
    return frozenset() if "deny" in union else frozenset(union)


# -- parsing -----------------------------------------------------------------------------


def parse_policy(text: str) -> Policy:
    """Parse JSON (text starting with ``{``) or the HCL subset; raise :class:`PolicyError`."""
    if not isinstance(text, str):
        raise PolicyError("a policy is text (HCL or JSON)")
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyError(f"a policy is at most {MAX_POLICY_BYTES} bytes")
    stripped = text.strip()
    if not stripped:
        raise PolicyError("the policy is empty")
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"policy JSON: {exc}") from None
        return _from_mapping(data)
    return _from_blocks(_HclParser(text).blocks())


def _from_mapping(data: object) -> Policy:
    if not isinstance(data, dict):
        raise PolicyError("a JSON policy is an object with a 'path' key")
    unknown = set(data) - {"path"}
    if unknown:
        raise PolicyError(f"unknown top-level keys in policy: {sorted(unknown)}")
    paths = data.get("path")
    if paths is None:
        raise PolicyError("the policy has no 'path' rules")
    items: list[tuple[str, Any]] = []
    if isinstance(paths, dict):
        items = list(paths.items())
    elif isinstance(paths, list) and all(isinstance(entry, dict) for entry in paths):
        items = [pair for entry in paths for pair in entry.items()]
    else:
        raise PolicyError("'path' must map patterns to rule objects")
    return _from_blocks(items)


def _from_blocks(items: list[tuple[str, Any]]) -> Policy:
    if not items:
        raise PolicyError("the policy has no 'path' rules")
    if len(items) > MAX_RULES:
        raise PolicyError(f"a policy has at most {MAX_RULES} path rules")
    merged: dict[str, set[str]] = {}
    for pattern, body in items:
        _check_pattern(pattern)
        if not isinstance(body, dict):
            raise PolicyError(f'path "{pattern}": the rule must be an object')
        unknown = set(body) - {"capabilities"}
        if unknown:
            raise PolicyError(f'path "{pattern}": unknown keys {sorted(unknown)}')
        capabilities = body.get("capabilities")
        if not isinstance(capabilities, list) or not all(
            isinstance(item, str) for item in capabilities
        ):
            raise PolicyError(f'path "{pattern}": capabilities must be a list of strings')
        wrong = sorted(set(capabilities) - CAPABILITIES)
        if wrong:
            raise PolicyError(
                f'path "{pattern}": unknown capabilities {wrong}; '
                f"expected some of {sorted(CAPABILITIES)}"
            )
        # The same pattern twice in one policy: Vault merges the capabilities.
        merged.setdefault(pattern.lstrip("/"), set()).update(capabilities)
    return Policy(tuple(Rule(pattern, frozenset(caps)) for pattern, caps in merged.items()))


def _check_pattern(pattern: object) -> None:
    if not isinstance(pattern, str) or not 0 < len(pattern) <= MAX_PATTERN_LENGTH:
        raise PolicyError(f"a path pattern is 1 to {MAX_PATTERN_LENGTH} characters")
    if any(ord(char) < 0x20 for char in pattern):
        raise PolicyError(f"path {pattern!r}: control characters are not allowed")
    if "*" in pattern[:-1]:
        raise PolicyError(f'path "{pattern}": "*" is only allowed as the last character')
    for segment in pattern.rstrip("*").split("/"):
        if "+" in segment and segment != "+":
            raise PolicyError(f'path "{pattern}": "+" must be a whole path segment')


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    prefix = pattern.endswith("*")
    body = pattern[:-1] if prefix else pattern
    parts = ["[^/]+" if segment == "+" else re.escape(segment) for segment in body.split("/")]
    return re.compile("/".join(parts) + (".*" if prefix else ""), re.DOTALL)


# -- the HCL subset ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>(?:\#|//)[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<punct>[{}\[\]=,])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "/": "/"}


class _HclParser:
    """``path "PATTERN" { capabilities = ["a", "b"] }`` blocks, comments ``#``, ``//``, ``/**/``."""

    def __init__(self, text: str) -> None:
        self._tokens = list(self._tokenize(text))
        self._index = 0

    @staticmethod
    def _tokenize(text: str) -> Iterator[tuple[str, str, int]]:
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                line = text.count("\n", 0, position) + 1
                raise PolicyError(f"policy line {line}: unexpected {text[position]!r}")
            kind = match.lastgroup or ""
            if kind not in ("space", "comment"):
                line = text.count("\n", 0, position) + 1
                yield kind, match.group(), line
            position = match.end()

    def _next(self, expected_kind: str, expected: str | None = None) -> str:
        if self._index >= len(self._tokens):
            raise PolicyError(f"policy: unexpected end, expected {expected or expected_kind}")
        kind, value, line = self._tokens[self._index]
        if kind != expected_kind or (expected is not None and value != expected):
            wanted = expected or expected_kind
            raise PolicyError(f"policy line {line}: expected {wanted}, got {value}")
        self._index += 1
        return _unquote(value) if kind == "string" else value

    def _peek(self) -> str | None:
        return self._tokens[self._index][1] if self._index < len(self._tokens) else None

    def blocks(self) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = []
        while self._index < len(self._tokens):
            keyword = self._next("ident")
            if keyword != "path":
                raise PolicyError(f"policy: unknown top-level key {keyword!r}; expected path")
            pattern = self._next("string")
            self._next("punct", "{")
            body: dict[str, Any] = {}
            while self._peek() != "}":
                key = self._next("ident")
                self._next("punct", "=")
                if key in body:
                    raise PolicyError(f'path "{pattern}": {key} is given twice')
                body[key] = self._value(pattern)
            self._next("punct", "}")
            items.append((pattern, body))
        return items

    def _value(self, pattern: str) -> Any:
        if self._peek() != "[":
            return self._next("string")
        self._next("punct", "[")
        values: list[str] = []
        while self._peek() != "]":
            values.append(self._next("string"))
            if self._peek() == ",":
                self._next("punct", ",")
            elif self._peek() != "]":
                raise PolicyError(f'path "{pattern}": expected "," or "]" in a list')
        self._next("punct", "]")
        return values


def _unquote(token: str) -> str:
    out: list[str] = []
    chars = iter(token[1:-1])
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in _ESCAPES:
                raise PolicyError(f"policy: unknown escape \\{escaped} in a string")
            out.append(_ESCAPES[escaped])
        else:
            out.append(char)
    return "".join(out)
