"""``trustee scitt``: sign a statement, register it, verify what comes back, offline.

- ``sign FILE --trustee NAME`` has a trustee of the server sign (its key stays in custody);
  ``sign FILE --key KEY.pem`` signs here with a key file (a ledger device's, say), the
  algorithm read from the key (:func:`trustee.scitt.load_signing_key`).
- ``register FILE`` posts to the server's ``/entries``, follows the ``303`` and writes the
  receipt and/or the transparent statement.
- ``verify FILE`` checks a transparent statement, or a statement and ``--receipt``, against a
  key set file, a PEM key, or the server's ``/.well-known/scitt-keys``. Its exit status is
  a verdict's: 0 valid, 1 not valid (the reason on one line), 2 could not check at all (the
  command line, a file that cannot be read, keys that cannot be had), so a script never takes
  "cannot tell" for "forged".
- ``keys`` saves the server's key set, for verifying later without it.

Commands that talk to a server take ``--addr`` or ``TRUSTEE_ADDR`` (and ``TRUSTEE_TOKEN``), as
the other remote commands do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from trustee.cli.console import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    fail,
    out,
    refuse_existing,
    usage_error,
)
from trustee.cli.remote import connected
from trustee.cli.remote_commands import print_json, read_input, secret_from_env
from trustee.scitt import (
    BadKey,
    ReceiptError,
    Verdict,
    load_signing_key,
    load_verifying_key,
    parse_key_set,
    verdict_of,
)
from trustee.scitt.keys import ALGORITHMS
from trustee.scitt.pem import MAX_PEM_BYTES
from trustee.scitt.statement import MAX_STATEMENT_BYTES

__all__ = ["app"]

MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_COSE_BYTES = 2 * MAX_STATEMENT_BYTES  # a transparent statement adds its receipts

app = typer.Typer(
    help="SCITT statements: sign, register at the server, verify receipts offline.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

AddrOption = Annotated[
    str | None,
    typer.Option("--addr", help="The server's address (default: TRUSTEE_ADDR, VAULT_ADDR)."),
]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]


# -- files -------------------------------------------------------------------------------------


def write_file(target: str, data: bytes, *, force: bool) -> None:
    """``data`` to ``target`` (``-`` = standard output), under the CLI's overwrite rule."""
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    refuse_existing(path, force)
    try:
        with path.open("wb" if force else "xb") as handle:
            handle.write(data)
    except FileExistsError:
        fail(f"{path} exists; use --force to overwrite it")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


def _check_targets(targets: list[str | None], force: bool) -> None:
    """Refuse existing outputs before doing anything that cannot be undone (a registration)."""
    named = [target for target in targets if target not in (None, "-")]
    if len(set(named)) != len(named):
        usage_error("two outputs name the same file")
    for target in named:
        refuse_existing(Path(str(target)), force)


# -- sign --------------------------------------------------------------------------------------


@app.command("sign")
def sign_command(
    file: Annotated[str, typer.Argument(help="The payload: any bytes (- = standard input).")],
    output: Annotated[
        str, typer.Option("-o", "--output", help="Where to write the statement (- = stdout).")
    ],
    trustee: Annotated[
        str | None, typer.Option("--trustee", help="Sign as this trustee of the server.")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", help="Sign here with this PEM private key (Ed25519, P-256, P-384, secp256k1)."
        ),
    ] = None,
    passphrase_env: Annotated[
        str | None,
        typer.Option("--passphrase-env", help="Variable holding the --key file's passphrase."),
    ] = None,
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="The payload's media type.")
    ] = None,
    issuer: Annotated[
        str | None,
        typer.Option("--issuer", help="CWT iss (default for --trustee: its address)."),
    ] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="CWT sub.")] = None,
    addr: AddrOption = None,
    force: ForceOption = False,
) -> None:
    """Sign FILE as a statement, by a trustee or with a key file."""
    if (trustee is None) == (key is None):
        usage_error("give --trustee NAME (the server signs) or --key FILE (signed here)")
    if passphrase_env is not None and key is None:
        usage_error("--passphrase-env goes with --key")
    if key is not None and addr is not None:
        usage_error("--addr goes with --trustee; --key signs here, with no server")
    for option, value in (("--content-type", content_type), ("--issuer", issuer)):
        if value == "":
            usage_error(f"{option} must not be empty")
    if subject == "":
        usage_error("--subject must not be empty")
    _check_targets([output], force)
    payload = read_input(file, "payload", MAX_PAYLOAD_BYTES)
    if trustee is not None:
        with connected(address=addr) as client:
            statement = client.sign_statement(
                trustee, payload, content_type=content_type, issuer=issuer, subject=subject
            )
        signer = f"trustee {trustee}"
        algorithm = "ES256K"
    else:
        password = None
        if passphrase_env is not None:
            password = secret_from_env(passphrase_env, "key file's passphrase").encode()
        pem = read_input(str(key), "key file", MAX_PEM_BYTES)
        try:
            signing = load_signing_key(pem, password)
        except BadKey as exc:
            fail(f"key file {key}: {exc}")
        statement = signing.sign_statement(
            payload, content_type=content_type, issuer=issuer, subject=subject
        )
        signer = signing.address or f"key {signing.public.thumbprint().hex()[:16]}"
        algorithm = ALGORITHMS[signing.alg]
    write_file(output, statement, force=force)
    if output != "-":
        out.print(f"{escape(output)}: {algorithm} statement by {escape(signer)}")


# -- register ----------------------------------------------------------------------------------


@app.command("register")
def register_command(
    file: Annotated[str, typer.Argument(help="The signed statement (- = standard input).")],
    receipt_output: Annotated[
        str | None,
        typer.Option("-o", "--receipt", help="Write the receipt (COSE) here (- = stdout)."),
    ] = None,
    transparent_output: Annotated[
        str | None,
        typer.Option(
            "--transparent-statement",
            help="Write the statement with its receipt (label 394) here (- = stdout).",
        ),
    ] = None,
    addr: AddrOption = None,
    force: ForceOption = False,
) -> None:
    """Register FILE at the server; print its entry id.

    Writes the receipt (``-o``) and/or the transparent statement it answers.
    """
    if receipt_output == "-" and transparent_output == "-":
        usage_error("only one output can be standard output")
    _check_targets([receipt_output, transparent_output], force)
    statement = read_input(file, "statement", MAX_STATEMENT_BYTES)
    with connected(address=addr) as client:
        entry_id = client.register_statement(statement)
        receipt = client.receipt(entry_id) if receipt_output is not None else None
        transparent = (
            client.transparent_statement(entry_id) if transparent_output is not None else None
        )
    if receipt is not None and receipt_output is not None:
        write_file(receipt_output, receipt, force=force)
    if transparent is not None and transparent_output is not None:
        write_file(transparent_output, transparent, force=force)
    if "-" not in (receipt_output, transparent_output):
        out.print(entry_id)


# -- keys --------------------------------------------------------------------------------------


@app.command("keys")
def keys_command(
    output: Annotated[
        str, typer.Option("-o", "--output", help="Where to write the key set (- = stdout).")
    ] = "-",
    addr: AddrOption = None,
    force: ForceOption = False,
) -> None:
    """Save the server's receipt keys (/.well-known/scitt-keys).

    A COSE Key Set, for ``verify --keys`` later without the server.
    """
    _check_targets([output], force)
    with connected(address=addr) as client:
        data = client.scitt_keys()
    try:
        parse_key_set(data)
    except ReceiptError as exc:
        fail(f"the server's key set is not one: {exc}")
    write_file(output, data, force=force)


# -- verify ------------------------------------------------------------------------------------


@app.command("verify")
def verify_command(
    file: Annotated[
        str,
        typer.Argument(help="A transparent statement, or a statement with --receipt (- = stdin)."),
    ],
    receipt: Annotated[
        str | None, typer.Option("--receipt", help="The statement's receipt (COSE).")
    ] = None,
    keys: Annotated[
        str | None,
        typer.Option("--keys", help="The service's key set (CBOR, from trustee scitt keys)."),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="The service's receipt key: a PEM key or cert.")
    ] = None,
    addr: AddrOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Verify a statement and its receipts, offline.

    Exit status 0 when valid, 1 when not (the reason on one line), 2 when it cannot be
    checked (usage, unreadable files, no keys).
    """
    if keys is not None and key is not None:
        usage_error("give --keys or --key, not both")
    if addr is not None and (keys is not None or key is not None):
        usage_error("--addr fetches the key set; --keys and --key need no server")
    if file == "-" and receipt == "-":
        usage_error("only one input can be standard input")
    data = read_input(file, "statement", MAX_COSE_BYTES, code=EXIT_USAGE)
    receipt_data = (
        read_input(receipt, "receipt", MAX_COSE_BYTES, code=EXIT_USAGE) if receipt else None
    )
    key_set = _key_set(keys, key, addr)
    verdict = verdict_of(data, key_set, receipt_data)
    if as_json:
        print_json(verdict.to_dict())
    else:
        _print_verdict(verdict)
    raise typer.Exit(EXIT_OK if verdict.valid else EXIT_INVALID)


def _key_set(keys: str | None, key: str | None, addr: str | None) -> dict[bytes, Any]:
    """The receipt keys by kid, from a file or the server; any failure is status 2."""
    if key is not None:
        try:
            public = load_verifying_key(read_input(key, "key file", MAX_PEM_BYTES, code=EXIT_USAGE))
        except BadKey as exc:
            fail(f"key file {key}: {exc}", EXIT_USAGE)
        return {public.thumbprint(): public}
    if keys is not None:
        data = read_input(keys, "key set", MAX_PEM_BYTES, code=EXIT_USAGE)
        where = f"key set {keys}"
    else:
        with connected(EXIT_USAGE, address=addr) as client:
            data = client.scitt_keys()
        where = f"the key set of {addr or os.environ.get('TRUSTEE_ADDR') or 'the server'}"
    try:
        return parse_key_set(data)
    except ReceiptError as exc:
        fail(f"{where}: {exc}", EXIT_USAGE)


def _print_verdict(verdict: Verdict) -> None:
    if not verdict.valid or verdict.statement is None:
        out.print(f"[bold red]INVALID[/] {escape(f'{verdict.reason}: {verdict.detail}')}")
        return
    statement = verdict.statement
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("verdict", "[bold green]VALID[/]")
    table.add_row("issuer", escape(statement.issuer or "-"))
    table.add_row("subject", escape(statement.subject or "-"))
    table.add_row("content type", escape(statement.content_type or "-"))
    signer = statement.address or statement.key.thumbprint().hex()
    table.add_row("signed", f"{statement.algorithm} by {signer} (key from {statement.key_source})")
    for receipt in verdict.receipts:
        where = f"leaf {receipt.leaf_index} of {receipt.tree_size}, root {receipt.root.hex()}"
        if receipt.issuer:
            where += f", log {escape(receipt.issuer)}"
        table.add_row("receipt", where)
    out.print(table)
