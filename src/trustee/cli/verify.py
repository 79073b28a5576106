"""``trustee verify``: offline token verification; exit 0 valid, 1 not, 2 usage error."""

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from trustee.cli.console import EXIT_INVALID, EXIT_OK, fail, out, usage_error
from trustee.crypto.errors import CryptoError
from trustee.tokens import DEFAULT_LEEWAY_SECONDS, TrustList, VerificationResult, verify_token

MAX_STDIN_BYTES = 64 * 1024


def read_token(token: str) -> str:
    """The token argument, or standard input when it is ``-`` (trailing newline dropped)."""
    if token != "-":
        return token
    data = sys.stdin.read(MAX_STDIN_BYTES + 1)
    return data.strip()


def load_trust(addresses: list[str], trust_list_file: Path | None) -> TrustList | None:
    """Addresses from ``--trust`` and from a trust-list file (JSON list, object, or lines)."""
    if not addresses and trust_list_file is None:
        return None
    collected = list(addresses)
    if trust_list_file is not None:
        try:
            text = trust_list_file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read trust list {trust_list_file}: {exc.strerror}")
        collected.extend(parse_trust_list_text(text))
    try:
        return TrustList(collected)
    except CryptoError as exc:
        usage_error(f"bad trusted address: {exc}")


def parse_trust_list_text(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            fail("trust list file is not valid JSON")
        if isinstance(value, dict):
            value = value.get("addresses", value.get("data", {}).get("addresses"))
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            fail('trust list JSON must be a list of addresses or {"addresses": [...]}')
        return value
    return [
        line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()
    ]


def verify_command(
    token: Annotated[str, typer.Argument(help="The JWT, or - to read it from standard input.")],
    trust: Annotated[
        list[str] | None, typer.Option("--trust", help="A trusted issuer address (repeatable).")
    ] = None,
    trust_list: Annotated[
        Path | None,
        typer.Option("--trust-list", help="File of trusted addresses (JSON list or one a line)."),
    ] = None,
    audience: Annotated[
        str | None, typer.Option("--audience", help="Who you are: must be in the token's aud.")
    ] = None,
    at: Annotated[
        float | None, typer.Option("--at", help="Check times as of these unix seconds.")
    ] = None,
    leeway: Annotated[
        float, typer.Option("--leeway", help="Clock skew allowed, seconds.")
    ] = DEFAULT_LEEWAY_SECONDS,
    as_json: Annotated[bool, typer.Option("--json", help="Print trustee/verify's data.")] = False,
    server: Annotated[
        bool,
        typer.Option("--server", help="Ask the server (TRUSTEE_ADDR) instead of verifying here."),
    ] = False,
) -> None:
    """Verify a token offline: recover the signer, compare with iss, check time and audience.

    Exit status 0 when valid, 1 when not (or when the server cannot answer), 2 on usage
    errors.
    """
    raw = read_token(token)
    trusted = load_trust(trust or [], trust_list)
    if leeway < 0:
        usage_error("--leeway must not be negative")
    if server:
        from trustee.cli.remote import remote_verify

        answer = remote_verify(raw, trusted=trusted, audience=audience, leeway=leeway)
    else:
        answer = verify_token(raw, trusted=trusted, audience=audience, at=at, leeway=leeway)
    data = answer.to_dict() if isinstance(answer, VerificationResult) else answer
    detail = answer.detail if isinstance(answer, VerificationResult) else ""
    if as_json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_verdict(data, detail)
    raise typer.Exit(EXIT_OK if data["valid"] else EXIT_INVALID)


def print_verdict(data: dict[str, Any], detail: str = "") -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    verdict = "[bold green]VALID[/]" if data["valid"] else "[bold red]INVALID[/]"
    table.add_row("verdict", verdict)
    if not data["valid"]:
        table.add_row(
            "reason", f"[red]{data.get('reason')}[/]" + (f"  ({detail})" if detail else "")
        )
    table.add_row("signer", data.get("address") or "-")
    table.add_row("algorithm", data.get("algorithm") or "-")
    trusted = data.get("trusted")
    table.add_row("trusted", "-" if trusted is None else ("yes" if trusted else "[red]no[/]"))
    claims = data.get("claims") or {}
    for name in ("sub", "aud", "nbf", "exp"):
        if name in claims:
            table.add_row(name, _describe_claim(name, claims[name]))
    out.print(table)
    if claims:
        out.print_json(orjson.dumps(claims).decode())


def _describe_claim(name: str, value: Any) -> str:
    if name in ("nbf", "exp") and isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
        return f"{value} ({moment})"
    return str(value)
