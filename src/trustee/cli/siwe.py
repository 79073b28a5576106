"""Sign-In with Ethereum from the command line: ``trustee login siwe`` and ``trustee siwe``.

``trustee login siwe --role R --key-env VAR`` asks the server for a nonce, builds the EIP-4361
message, signs it with the key (a hex key in an environment variable, or a V3 keystore) and
prints the server token it is exchanged for. Wallets sign instead: ``trustee siwe message``
prints the message to sign (with a fresh nonce), and ``trustee login siwe --message FILE
--signature SIG`` completes the login with the wallet's signature.
"""

import time
from pathlib import Path
from typing import Annotated

import typer

from trustee.auth.siwe_message import (
    SiweMessage,
    SiweMessageError,
    format_message,
    parse_message,
    rfc3339,
)
from trustee.cli.console import fail, usage_error
from trustee.cli.remote import connected
from trustee.cli.remote_commands import (
    KeystoreOption,
    PassphraseEnvOption,
    print_json,
    read_input,
    secret_from_env,
)
from trustee.crypto.address import address_from_public_key, parse_address
from trustee.crypto.encoding import hex_decode
from trustee.crypto.errors import CryptoError
from trustee.crypto.keystore import decrypt_keystore
from trustee.crypto.messages import eip191_hash
from trustee.crypto.secp256k1 import check_private_key, public_key_from_private, sign_recoverable

login_app = typer.Typer(
    help="Log in to a server and print the token it issues.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
siwe_app = typer.Typer(
    help="Sign-In with Ethereum (EIP-4361) messages for wallets.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

RoleOption = Annotated[str, typer.Option("--role", help="The login role (auth/trustee/role).")]
DomainOption = Annotated[
    str | None,
    typer.Option("--domain", help="The site signed in to: one of the role's bound_domains."),
]
UriOption = Annotated[
    str | None, typer.Option("--uri", help="The message's URI (default https://DOMAIN/).")
]
ChainOption = Annotated[int, typer.Option("--chain-id", min=1, help="EIP-155 chain id.")]
StatementOption = Annotated[
    str | None, typer.Option("--statement", help="A line the wallet shows the signer.")
]
TtlOption = Annotated[int, typer.Option("--ttl", min=1, help="Seconds until the message expires.")]


def build_message(
    role: str,
    address: str,
    domain: str | None,
    uri: str | None,
    chain_id: int,
    statement: str | None,
    ttl: int,
) -> str:
    """A message for ``address`` with a fresh nonce from the server."""
    if not domain:
        usage_error("--domain is needed: the site the role's bound_domains name")
    with connected() as client:
        nonce = client.siwe_nonce(role)["nonce"]
    now = time.time()
    try:
        message = SiweMessage(
            domain=domain,
            address=address,
            statement=statement,
            uri=uri or f"https://{domain}/",
            chain_id=chain_id,
            nonce=nonce,
            issued_at=rfc3339(now),
            expiration_time=rfc3339(now + ttl),
        )
    except SiweMessageError as exc:
        usage_error(exc.message)
    return format_message(message)


def private_key_of(key_env: str | None, keystore: Path | None, passphrase_env: str | None) -> bytes:
    if (key_env is None) == (keystore is None):
        usage_error("give exactly one of --key-env VAR or --keystore FILE (or --signature)")
    try:
        if keystore is not None:
            if not passphrase_env:
                usage_error("--keystore needs --passphrase-env VAR")
            document = read_input(str(keystore), "keystore").decode("utf-8", "replace")
            passphrase = secret_from_env(passphrase_env, "keystore passphrase")
            return decrypt_keystore(document, passphrase)
        raw = hex_decode(secret_from_env(key_env or "", "private key").strip(), what="key")
        return check_private_key(raw)
    except CryptoError as exc:
        fail(str(exc))


def print_login(auth: dict, as_json: bool) -> None:
    if as_json:
        print_json(auth)
    else:
        typer.echo(auth["client_token"])


@login_app.command("siwe")
def login_siwe(
    role: RoleOption,
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", help="Environment variable holding the hex private key."),
    ] = None,
    keystore: KeystoreOption = None,
    passphrase_env: PassphraseEnvOption = None,
    message_file: Annotated[
        str | None,
        typer.Option("--message", help="With --signature: the file (- = stdin) of the message."),
    ] = None,
    signature: Annotated[
        str | None,
        typer.Option("--signature", help="A wallet's signature of --message (0x hex)."),
    ] = None,
    domain: DomainOption = None,
    uri: UriOption = None,
    chain_id: ChainOption = 1,
    statement: StatementOption = None,
    ttl: TtlOption = 300,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole auth block.")] = False,
) -> None:
    """Sign in with Ethereum; prints the server token (the auth block with --json)."""
    if (message_file is None) != (signature is None):
        usage_error("--message FILE and --signature SIG go together")
    if message_file is not None and signature is not None:
        if key_env or keystore:
            usage_error("--signature completes a wallet's login: no --key-env or --keystore")
        text = read_input(message_file, "message").decode("utf-8", "replace")
        try:
            parse_message(text)
        except SiweMessageError:
            text = text.removesuffix("\n")  # a file saved from `trustee siwe message`
    else:
        private_key = private_key_of(key_env, keystore, passphrase_env)
        address = address_from_public_key(public_key_from_private(private_key))
        text = build_message(role, address, domain, uri, chain_id, statement, ttl)
        signature = "0x" + sign_recoverable(eip191_hash(text.encode()), private_key).hex()
    with connected() as client:
        auth = client.siwe_login(role, text, signature)
    print_login(auth, as_json)


@siwe_app.command("message")
def siwe_message(
    role: RoleOption,
    address: Annotated[str, typer.Option("--address", help="The wallet's address.")],
    domain: DomainOption = None,
    uri: UriOption = None,
    chain_id: ChainOption = 1,
    statement: StatementOption = None,
    ttl: TtlOption = 300,
) -> None:
    """Print an EIP-4361 message, with a fresh nonce, for a wallet to sign (personal_sign);
    then `trustee login siwe --role R --message FILE --signature SIG`."""
    try:
        checksummed = parse_address(address)
    except CryptoError as exc:
        usage_error(f"--address: {exc}")
    typer.echo(build_message(role, checksummed, domain, uri, chain_id, statement, ttl))
