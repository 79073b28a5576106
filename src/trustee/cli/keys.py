"""``trustee keys``: local key helpers (no server): make a key, show a key's address."""

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from trustee.cli.console import err, fail, out, usage_error, write_private_file
from trustee.crypto.address import address_from_public_key
from trustee.crypto.encoding import hex_decode
from trustee.crypto.errors import CryptoError
from trustee.crypto.keystore import decrypt_keystore, encrypt_keystore
from trustee.crypto.secp256k1 import (
    check_private_key,
    generate_private_key,
    parse_public_key,
    public_key_from_private,
)

HEX = re.compile(r"(0x|0X)?[0-9a-fA-F]+")

app = typer.Typer(
    help="Local key helpers: new keys and addresses, no server needed.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def read_passphrase(env_var: str | None, *, confirm: bool) -> str:
    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            usage_error(f"environment variable {env_var} is not set")
        return value
    if not sys.stdin.isatty():
        usage_error("no terminal to ask for the passphrase: use --passphrase-env VAR")
    return typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)


@app.command("new")
def new_key(
    keystore: Annotated[
        Path | None, typer.Option("--keystore", help="Write an encrypted V3 keystore here.")
    ] = None,
    passphrase_env: Annotated[
        str | None, typer.Option("--passphrase-env", help="Read the passphrase from this variable.")
    ] = None,
    show_private_key: Annotated[
        bool, typer.Option("--show-private-key", help="Print the private key in hex (careful).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite --keystore if it exists.")
    ] = False,
) -> None:
    """Generate a secp256k1 key from the OS CSPRNG and print its address."""
    private_key = generate_private_key()
    address = address_from_public_key(public_key_from_private(private_key))
    if keystore is not None:
        if keystore.exists() and not force:
            fail(f"{keystore} exists; use --force to overwrite it")
        passphrase = read_passphrase(passphrase_env, confirm=True)
        document = encrypt_keystore(private_key, passphrase)
        write_private_file(keystore, json.dumps(document).encode(), force=force)
        err.print(f"keystore written to {keystore}")
    out.print(address)
    if show_private_key:
        err.print("[yellow]the private key follows; anyone who sees it can sign as this address[/]")
        out.print("0x" + private_key.hex())


@app.command("address")
def show_address(
    key: Annotated[
        str,
        typer.Argument(help="Private or public key in hex, a V3 keystore file, or - for stdin."),
    ],
    passphrase_env: Annotated[
        str | None, typer.Option("--passphrase-env", help="Keystore passphrase variable.")
    ] = None,
) -> None:
    """Print the EIP-55 address of a key (private hex, public hex, or keystore file)."""
    text = sys.stdin.read(65536).strip() if key == "-" else key
    if key != "-" and not Path(text).is_file() and not HEX.fullmatch(text):
        # a name, not a mistyped key: say so (a key is never echoed)
        if Path(text).exists():
            fail(f"{text} is not a regular file")
        if "/" in text or "." in text:
            fail(f"no such file: {text}")
        fail("KEY is neither a hex key nor an existing file")
    try:
        if Path(text).is_file():
            document = Path(text).read_text(encoding="utf-8")
            private_key = decrypt_keystore(document, read_passphrase(passphrase_env, confirm=False))
            public_key = public_key_from_private(private_key)
        else:
            raw = hex_decode(text, what="key")
            if len(raw) == 32:
                public_key = public_key_from_private(check_private_key(raw))
            else:
                public_key = parse_public_key(raw)
    except CryptoError as exc:
        fail(str(exc))
    out.print(address_from_public_key(public_key))
